"""Guided upsampling (shaders guide_down.frag, energy_max.frag, guided.frag) against a CPU reference of the same
formula, read back from real GL framebuffers (EGL), and what it does to edges and small text."""
import numpy as np
import pytest

from artem_vr.render.compositor import (DETAIL_CORE, DETAIL_GAIN, GUIDED_RADIUS, GUIDED_RADIUS_SOFTWARE, SIGMA_R,
                                        TEXT_ENERGY, TEXT_REACH, Compositor)
from tests.render.test_compositor import render

LUMA = np.array([0.299, 0.587, 0.114])


def guided_reference(stylized, guide, out_w, out_h, detail, order="rgb", sigma_r=SIGMA_R, radius=2.0):
    """float64 (out_h, out_w, 3) on 0..255: joint bilateral upsampling of ``stylized`` guided by
    ``guide`` plus ``detail`` * the guide's luminance residual, exactly as the shaders' comments say."""
    s = stylized.astype(np.float64) / 255.0
    g = guide[..., :3].astype(np.float64) / 255.0
    if order in ("bgr", "bgra"):
        g = g[..., ::-1]
    y_full = g @ LUMA
    h, w = s.shape[:2]
    gh, gw = y_full.shape

    def footprint(i, n_low, n_g):
        lo = min(i * n_g // n_low, n_g - 1)
        hi = min(max((i + 1) * n_g // n_low, lo + 1), n_g)
        return np.arange(lo, hi, max((hi - lo + 15) // 16, 1))

    low_l, low_e = np.empty((h, w)), np.empty((h, w))
    for j in range(h):
        rows = footprint(j, h, gh)
        for i in range(w):
            block = y_full[np.ix_(rows, footprint(i, w, gw))]
            low_l[j, i] = block.mean()
            low_e[j, i] = np.abs(block - block.mean()).mean()

    vx = (np.arange(out_w) + 0.5) / out_w
    vy = (np.arange(out_h) + 0.5) / out_h
    # guide luminance at each output pixel: bilinear, clamp to edge
    gx, gy = vx * gw - 0.5, vy * gh - 0.5
    bx, by = np.floor(gx), np.floor(gy)
    fx, fy = gx - bx, gy - by
    x0, x1 = np.clip(bx, 0, gw - 1).astype(int), np.clip(bx + 1, 0, gw - 1).astype(int)
    y0, y1 = np.clip(by, 0, gh - 1).astype(int), np.clip(by + 1, 0, gh - 1).astype(int)
    top = y_full[y0][:, x0] * (1 - fx) + y_full[y0][:, x1] * fx
    bot = y_full[y1][:, x0] * (1 - fx) + y_full[y1][:, x1] * fx
    y = top * (1 - fy)[:, None] + bot * fy[:, None]

    # the text mask: E's maximum over the TEXT_REACH neighbourhood (clamped at the border), read bilinearly at u
    rx, ry = TEXT_REACH
    pad = np.pad(low_e, ((ry, ry), (rx, rx)), mode="edge")
    low_e = np.max([pad[j:j + h, i:i + w] for j in range(2 * ry + 1) for i in range(2 * rx + 1)], axis=0)
    ux, uy = vx * w - 0.5, vy * h - 0.5
    acc = np.zeros((out_h, out_w, 3))
    acc_l = np.zeros((out_h, out_w))
    acc_w = np.zeros((out_h, out_w))
    acc_e = np.zeros((out_h, out_w))
    acc_k = np.zeros((out_h, out_w))
    lox, loy = np.ceil(ux - radius), np.ceil(uy - radius)
    for dj in range(int(2 * radius) + 1):
        qy = loy + dj
        ty = np.where(qy <= np.floor(uy + radius), np.maximum(1 - np.abs(qy - uy) / radius, 0), 0)
        qyi = np.clip(qy, 0, h - 1).astype(int)
        for di in range(int(2 * radius) + 1):
            qx = lox + di
            tx = np.where(qx <= np.floor(ux + radius), np.maximum(1 - np.abs(qx - ux) / radius, 0), 0)
            qxi = np.clip(qx, 0, w - 1).astype(int)
            lq = low_l[qyi][:, qxi]
            ks = ty[:, None] * tx[None, :]   # the tent
            acc_e += ks * low_e[qyi][:, qxi]
            acc_k += ks
            wgt = ks * (np.exp(-(y - lq) ** 2 / (2 * sigma_r ** 2)) + 1e-3)
            acc += s[qyi][:, qxi] * wgt[..., None]
            acc_l += lq * wgt
            acc_w += wgt
    e_max = acc_e / acc_k
    mean = acc_l / acc_w
    r = (y - mean)[..., None]
    r = np.sign(r) * np.maximum(np.abs(r) - DETAIL_CORE, 0.0)
    m = np.minimum(1.0, e_max / TEXT_ENERGY)
    b = acc / acc_w[..., None]
    b = np.clip(b + (detail * m * (mean - b @ LUMA))[..., None], 0, 1)
    out = b + detail * DETAIL_GAIN * r * np.where(r > 0, 1 - b, b)
    return np.clip(out, 0, 1) * 255.0


@pytest.mark.parametrize("low,guide_size,dst,order,detail", [
    ((40, 24), (160, 96), (160, 96), "rgb", 0.0),       # output at the guide's size, 4x
    ((33, 21), (100, 62), (99, 63), "bgra", 0.7),       # odd sizes, ratios not integers, BGRA as captured
    ((20, 12), (400, 240), (120, 72), "bgr", 1.0),      # guide larger than the output, footprints > 16 px
    ((32, 24), (48, 24), (64, 48), "rgb", 0.5),         # guide larger in one direction only
])
@pytest.mark.parametrize("radius", [GUIDED_RADIUS_SOFTWARE, 1.5, GUIDED_RADIUS])
def test_guided_upsampling_matches_cpu_reference(gl, low, guide_size, dst, order, detail, radius):
    rng = np.random.default_rng(7)
    stylized = rng.integers(0, 256, (low[1], low[0], 3), dtype=np.uint8)
    # a guide with structure (blocks + noise), so the range weights matter
    base = rng.integers(0, 256, (guide_size[1] // 4 + 1, guide_size[0] // 4 + 1, 4), dtype=np.uint8)
    guide = np.repeat(np.repeat(base, 4, 0), 4, 1)[:guide_size[1], :guide_size[0]]
    guide = np.clip(guide.astype(int) + rng.integers(-20, 21, guide.shape), 0, 255).astype(np.uint8)
    if order != "bgra":
        guide = np.ascontiguousarray(guide[..., :3])
    comp = Compositor(gl, sharpen=0.5, detail=detail)  # sharpen is not used on the guided path
    comp.guided_radius = radius
    comp.upload(stylized, guide=guide, guide_order=order)
    out = render(gl, comp, dst).astype(np.float64)
    ref = guided_reference(stylized, guide, *dst, detail, order=order, radius=radius)
    err = np.abs(out - ref)
    assert err.max() <= 1.6 and err.mean() < 0.3   # float32 on the GPU vs float64, then 8-bit rounding
    comp.release()


def test_guided_flat_guide_is_a_plain_smooth_upsample_and_detail_does_nothing(gl):
    """A guide without structure gives the range weights nothing: detail 0 and 1 agree."""
    rng = np.random.default_rng(2)
    stylized = rng.integers(0, 256, (18, 32, 3), dtype=np.uint8)
    guide = np.full((72, 128, 3), 90, np.uint8)
    comp = Compositor(gl)
    comp.upload(stylized, guide=guide)
    a = render(gl, comp, (128, 72)).astype(int)
    comp.detail = 1.0
    b = render(gl, comp, (128, 72)).astype(int)
    assert np.abs(a - b).max() <= 1
    comp.release()


@pytest.mark.parametrize("radius,tol", [(GUIDED_RADIUS, 12), (GUIDED_RADIUS_SOFTWARE, 30)])
def test_guided_edges_follow_the_guide_and_detail_brings_back_thin_lines(gl, radius, tol):
    """A stylized frame that lost a sharp edge and a 1-px line: the guided picture puts the edge
    where the guide has it (the Catmull-Rom one smears it over ~4 px), and detail 1 draws the line.
    The 2x2 window (software GL) reaches fewer of the edge's pure pixels: its step is a little softer."""
    guide = np.full((64, 128, 3), 40, np.uint8)
    guide[:, 61:] = 220                     # an edge at x = 61 (not on the 4-px grid)
    guide[20, :] = 250                      # a 1-px bright line
    guide[20, 61:] = 0
    import cv2

    stylized = cv2.resize(guide, (32, 16), interpolation=cv2.INTER_AREA)  # what the net saw
    stylized[..., 0] = np.clip(stylized[..., 0].astype(int) + 30, 0, 255)    # "style": a red cast
    plain, guided = Compositor(gl), Compositor(gl, detail=0.0)
    guided.guided_radius = radius
    plain.upload(stylized)
    guided.upload(stylized, guide=guide)
    row_p = render(gl, plain, (128, 64))[40, :, 1].astype(int)
    row_g = render(gl, guided, (128, 64))[40, :, 1].astype(int)
    assert abs(row_g[59] - 40) <= tol and abs(row_g[62] - 220) <= tol  # a sharp step at the guide's edge
    assert np.abs(np.diff(row_g[50:72])).max() > 1.5 * np.abs(np.diff(row_p[50:72])).max()
    line0 = render(gl, guided, (128, 64))[20, 10:50, 1].astype(int)
    guided.detail = 1.0
    line1 = render(gl, guided, (128, 64))[20, 10:50, 1].astype(int)
    assert line1.mean() > 235 and line1.mean() > line0.mean() + 60
    out1 = render(gl, guided, (128, 64)).astype(int)
    assert abs(out1[40, 20, 0] - out1[40, 20, 1]) >= 20   # the style's colour cast is still there
    for comp in (plain, guided):
        comp.release()


def test_guided_size_changes_do_not_leak_and_release_frees_everything(gl):
    comp = Compositor(gl, detail=0.5)
    rng = np.random.default_rng(4)
    counts = set()
    for i in range(20):
        low = rng.integers(0, 256, (20 + i % 3, 30 + i % 4, 3), dtype=np.uint8)
        guide = rng.integers(0, 256, (80 + i % 5, 120 + i % 2, 4 if i % 2 else 3), dtype=np.uint8)
        comp.upload(low, guide=guide, guide_order="bgra" if i % 2 else "rgb")
        render(gl, comp, (100 + i, 60 + i))
        counts.add(comp.gl_object_count)
    comp.upload(rng.integers(0, 256, (20, 30, 3), dtype=np.uint8))   # no guide: back to Catmull-Rom
    assert comp.guide is None
    render(gl, comp, (90, 60))
    assert len(counts) == 1 and gl.error == "GL_NO_ERROR"
    comp.release()
    assert comp.gl_object_count == 0


def test_a_guide_no_larger_than_the_stylized_frame_draws_it_as_it_is(gl):
    """At 1:1 (--infer-size = the source's size) the net saw every pixel: plain Catmull-Rom."""
    rng = np.random.default_rng(5)
    stylized = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
    comp = Compositor(gl, detail=1.0)
    comp.upload(stylized, guide=rng.integers(0, 256, (24, 32, 4), dtype=np.uint8), guide_order="bgra")
    assert not comp.guided
    assert np.array_equal(render(gl, comp, (32, 24)), stylized)
    comp.release()


def test_the_vr_screen_quad_is_upsampled_guided_too(gl):
    """render_world (the VR floating screen) uses the same guided shader: with an identity placement
    it draws what render() draws."""
    rng = np.random.default_rng(6)
    stylized = rng.integers(0, 256, (12, 20, 3), dtype=np.uint8)
    guide = rng.integers(0, 256, (48, 80, 4), dtype=np.uint8)
    comp = Compositor(gl, detail=1.0)
    comp.upload(stylized, guide=guide, guide_order="bgra")
    flat = render(gl, comp, (80, 48), flip_y=True).astype(int)
    tex = gl.texture((80, 48), 3)
    fbo = gl.framebuffer(color_attachments=[tex])
    comp.render_world(fbo, (80, 48), np.eye(4, dtype="f4").tobytes())
    world = np.frombuffer(fbo.read(components=3, alignment=1), np.uint8).reshape(48, 80, 3).astype(int)
    gl._test_anchor.use()
    fbo.release()
    tex.release()
    assert np.abs(world - flat).max() <= 1
    plain = Compositor(gl)
    plain.upload(stylized)
    assert np.abs(render(gl, plain, (80, 48), flip_y=True).astype(int) - flat).mean() > 5  # guided differs
    comp.release()
    plain.release()


def test_software_gl_keeps_catmull_rom_unless_asked(gl):
    """On llvmpipe the guided pass costs about twice Catmull-Rom even with its 2x2 window: the live
    modes keep it for screens. The window is picked by the renderer, and what each one draws differs."""
    stylized = np.random.default_rng(1).integers(0, 256, (36, 64, 3), dtype=np.uint8)
    guide = np.random.default_rng(2).integers(0, 256, (72, 128, 3), dtype=np.uint8)
    assert Compositor(gl).software == ("llvmpipe" in gl.info["GL_RENDERER"].lower())
    for on_software in (True, False):
        comp = Compositor(gl, guided_on_software=on_software)
        comp.upload(stylized, guide=guide)
        assert comp.guided == (on_software or not comp.software)
        assert comp.guided_radius == (GUIDED_RADIUS_SOFTWARE if comp.software else GUIDED_RADIUS)
        comp.release()
    pictures = []
    for radius in (GUIDED_RADIUS_SOFTWARE, GUIDED_RADIUS):
        comp = Compositor(gl)
        comp.guided_radius = radius
        comp.upload(stylized, guide=guide)
        pictures.append(render(gl, comp, (128, 72)).astype(int))
        comp.release()
    assert np.abs(pictures[0] - pictures[1]).mean() > 2
