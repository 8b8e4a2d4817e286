"""The compositor's shaders against CPU references, read back from real GL framebuffers (EGL)."""
import numpy as np
import pytest

from artem_vr.render.compositor import Compositor, letterbox


def catmull_rom_reference(img: np.ndarray, out_w: int, out_h: int) -> np.ndarray:
    """Separable Catmull-Rom (a=-0.5), pixel-centre aligned, clamp-to-edge, in float64."""

    def weights(t):
        t2, t3 = t * t, t * t * t
        return np.stack([-0.5 * t3 + t2 - 0.5 * t, 1.5 * t3 - 2.5 * t2 + 1,
                         -1.5 * t3 + 2 * t2 + 0.5 * t, 0.5 * t3 - 0.5 * t2], -1)

    def resample(a, n_out, axis):
        n_in = a.shape[axis]
        p = (np.arange(n_out) + 0.5) * n_in / n_out - 0.5
        base = np.floor(p).astype(int)
        w = weights(p - base)
        out = 0
        for k in range(4):
            idx = np.clip(base + k - 1, 0, n_in - 1)
            taken = np.take(a, idx, axis=axis)
            shape = [1] * a.ndim
            shape[axis] = n_out
            out = out + taken * w[:, k].reshape(shape)
        return out

    x = img.astype(np.float64) / 255.0
    y = resample(resample(x, out_h, 0), out_w, 1)
    return np.clip(y, 0, 1) * 255.0


def render(gl, comp, size, flip_y=False, hud=False):
    tex = gl.texture(size, 3)
    fbo = gl.framebuffer(color_attachments=[tex])
    comp.render(fbo, size, flip_y=flip_y, hud=hud)
    out = np.frombuffer(fbo.read(components=3, alignment=1), np.uint8).reshape(size[1], size[0], 3)
    # moderngl re-binds the previously bound framebuffer when it makes a new one: never leave a
    # released one bound (that is what the sinks do too: their targets live as long as they do)
    anchor = getattr(gl, "_test_anchor", None) or gl.framebuffer(color_attachments=[gl.texture((1, 1), 3)])
    gl._test_anchor = anchor
    anchor.use()
    fbo.release()
    tex.release()
    return out


@pytest.mark.parametrize("src,dst", [((40, 30), (160, 120)), ((33, 21), (100, 64)), ((64, 48), (64, 48))])
def test_upsample_matches_cpu_catmull_rom(gl, src, dst):
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (src[1], src[0], 3), dtype=np.uint8)
    comp = Compositor(gl, sharpen=0.0)
    comp.upload(img)
    out = render(gl, comp, dst)
    ref = catmull_rom_reference(img, *dst)
    assert np.abs(out.astype(float) - ref).max() <= 1.01  # 8-bit rounding only
    comp.release()


def test_flip_y_puts_the_top_row_where_a_display_shows_it(gl):
    img = np.zeros((32, 32, 3), np.uint8)
    img[:8] = 255  # white top band
    comp = Compositor(gl)
    comp.upload(img)
    readback = render(gl, comp, (32, 32), flip_y=False)
    display = render(gl, comp, (32, 32), flip_y=True)  # GL rows: bottom first
    assert readback[:8].min() == 255 and readback[8:].max() == 0
    assert display[-8:].min() == 255 and display[:-8].max() == 0
    comp.release()


def test_letterbox_keeps_aspect_and_centres():
    assert letterbox((320, 180), (1280, 1024)) == (0, 152, 1280, 720)
    assert letterbox((100, 100), (300, 150)) == (75, 0, 150, 150)
    assert letterbox((10, 10), (0, 0)) == (0, 0, 0, 0)


def test_letterboxed_render_has_black_bars(gl):
    comp = Compositor(gl)
    comp.upload(np.full((32, 64, 3), 200, np.uint8))
    out = render(gl, comp, (64, 64))
    assert out[:16].max() == 0 and out[48:].max() == 0 and out[16:48].min() >= 199
    comp.release()


def test_sharpen_only_on_upsampling_and_only_adds_contrast(gl):
    img = np.zeros((32, 32, 3), np.uint8)
    img[:, 16:] = 160
    plain, sharp = Compositor(gl, sharpen=0.0), Compositor(gl, sharpen=0.8)
    for comp in (plain, sharp):
        comp.upload(img)
    assert np.array_equal(render(gl, plain, (32, 32)), render(gl, sharp, (32, 32)))  # 1:1 untouched
    a, b = render(gl, plain, (96, 96)).astype(int), render(gl, sharp, (96, 96)).astype(int)
    edge = slice(40, 56)
    assert np.abs(np.diff(b[48, edge, 0])).max() > np.abs(np.diff(a[48, edge, 0])).max()  # crisper edge
    assert np.abs(b[48, :30] - a[48, :30]).max() <= 1  # flat areas unchanged
    plain.release()
    sharp.release()


def test_hud_is_drawn_top_left_with_alpha(gl):
    comp = Compositor(gl)
    comp.upload(np.full((40, 40, 3), 100, np.uint8))
    hud = np.zeros((10, 20, 4), np.uint8)
    hud[..., 0] = 255
    hud[..., 3] = 128  # half-transparent red
    comp.set_hud(hud)
    out = render(gl, comp, (40, 40), hud=True).astype(int)
    assert abs(out[0, 0, 0] - (255 * 128 + 100 * 127) / 255) <= 2 and out[0, 0, 1] <= 52
    assert out[20:, 30:].max() == 100 and out[20:, 30:].min() == 100  # untouched elsewhere
    comp.release()


def test_size_changes_do_not_leak_gl_objects(gl):
    comp = Compositor(gl, sharpen=0.5)
    rng = np.random.default_rng(3)
    counts = set()
    for i in range(40):
        comp.upload(rng.integers(0, 256, (32 + i % 7, 48 + i % 5, 3), dtype=np.uint8))
        render(gl, comp, (100 + 3 * i, 90 + i))
        counts.add(comp.gl_object_count)
    assert len(counts) == 1
    assert gl.error == "GL_NO_ERROR"
    comp.release()
    assert comp.gl_object_count == 0
