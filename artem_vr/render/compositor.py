"""The moderngl compositor: upload a stylized frame, upsample it into any target framebuffer,
letterboxed, with an optional HUD on top.

Upsampling: with the full-resolution source frame uploaded as a guide (:meth:`Compositor.upload`),
joint bilateral upsampling (Kopf et al. 2007) plus ``detail`` of the source's fine luminance
(shaders ``guide_down.frag`` and ``energy_max.frag`` (the text mask) at the stylized size, then ``guided.frag`` at 12
texture fetches an output pixel); without one, Catmull-Rom (``upsample.frag``) and
the optional unsharp mask (``sharpen.frag``).

Every GL object it makes is tracked in ``self._objects`` so tests can check that resizes and
size changes do not leak. It runs on the thread that owns the GL context (the main thread).
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from ..resources import shader_source

Size = Tuple[int, int]

SIGMA_R = 0.1    # guided upsampling: range sigma, luminance 0..1
# guided upsampling's window (the tent's radius, stylized pixels): 4x4 taps on a GPU, 2x2 on
# software GL (half the cost; edges a little softer: edge sharpness 1.5-3.0 against 2.1-4.1,
# Catmull-Rom 1.3-2.1, bench_readable --camera)
GUIDED_RADIUS = 2.0
GUIDED_RADIUS_SOFTWARE = 1.0
DETAIL_GAIN = 2.0  # --detail 1 pulls a pixel this many times its luminance residual toward white/black
# the residual's coring threshold (luminance 0..1): a camera's sensor noise (2-3 grey levels) is not
# drawn back into the stabilised picture, while text and thin lines (tens of levels) are
DETAIL_CORE = 4.0 / 255.0
TEXT_ENERGY = 0.08  # mean |luminance - local mean| (0..1) at which the guide counts as text
# how many stylized pixels (x, y) the text mask reaches beyond the text (energy_max.frag): further
# along a line, so its words share one plate. Whole-page OCR >= 85% (bench_readable, 10 styles),
# dark code editor + light document: (1, 1) 3 + 9, (2, 1) 6 + 8, (3, 1) 5 + 7; the dark editor
# under the live screen check (styles 3/13/25): 0.19/0.34/0.03 of its words at (1, 1), 0.25/0.69/0.72 at (2, 1)
TEXT_REACH = (2, 1)
GUIDE_SWAPPED = ("bgr", "bgra")  # channel orders the guided shaders swizzle back to RGB


def letterbox(src: Size, dst: Size) -> Tuple[int, int, int, int]:
    """``(x, y, w, h)`` of the largest rect with ``src``'s aspect centred inside ``dst``."""
    sw, sh = src
    dw, dh = dst
    if sw <= 0 or sh <= 0 or dw <= 0 or dh <= 0:
        return 0, 0, 0, 0
    scale = min(dw / sw, dh / sh)
    w, h = max(1, min(dw, round(sw * scale))), max(1, min(dh, round(sh * scale)))
    return (dw - w) // 2, (dh - h) // 2, w, h


class Compositor:
    def __init__(self, ctx, sharpen: float = 0.0, detail: float = 0.0, guided_on_software: bool = True):
        import moderngl

        self.ctx = ctx
        self.sharpen = float(sharpen)
        self._detail = float(detail)
        # a software renderer (Mesa llvmpipe, on the CPU the net needs) pays for every output pixel:
        # there the guided pass uses the 2x2 window (15 ms per 1280x720 picture on 2 idle cores
        # against 8 for Catmull-Rom, 32 with the 4x4 window before: bench_pipeline --compositor), and the
        # live modes keep it only for screens, where it is what makes text readable
        renderer = str(ctx.info.get("GL_RENDERER", "")).lower()
        self.software = any(name in renderer for name in ("llvmpipe", "softpipe", "swiftshader", "software"))
        self.guided_on_software = guided_on_software
        self.guided_radius = GUIDED_RADIUS_SOFTWARE if self.software else GUIDED_RADIUS
        self.detail_gain = DETAIL_GAIN
        self._objects = {}
        vert = shader_source("quad.vert")
        self._upsample = self._track("upsample", ctx.program(vertex_shader=vert, fragment_shader=shader_source("upsample.frag")))
        self._sharpen = self._track("sharpen", ctx.program(vertex_shader=vert, fragment_shader=shader_source("sharpen.frag")))
        self._overlay = self._track("overlay", ctx.program(vertex_shader=vert, fragment_shader=shader_source("overlay.frag")))
        self._world = self._track("world", ctx.program(vertex_shader=shader_source("screen.vert"),
                                                        fragment_shader=shader_source("upsample.frag")))
        self._guide_down = self._track("guide_down", ctx.program(vertex_shader=vert,
                                                                 fragment_shader=shader_source("guide_down.frag")))
        self._energy_max = self._track("energy_max", ctx.program(vertex_shader=vert,
                                                                 fragment_shader=shader_source("energy_max.frag")))
        quad = np.array([-1, -1, 1, -1, -1, 1, 1, 1], dtype="f4")
        self._vbo = self._track("vbo", ctx.buffer(quad.tobytes()))
        self._vaos = {name: self._track(f"vao-{name}", ctx.vertex_array(prog, [(self._vbo, "2f", "in_pos")]))
                      for name, prog in (("upsample", self._upsample), ("sharpen", self._sharpen),
                                         ("overlay", self._overlay), ("world", self._world),
                                         ("guide_down", self._guide_down), ("energy_max", self._energy_max),
                                         )}
        self._moderngl = moderngl
        self.texture = None        # the latest stylized frame
        self.guide = None          # its full-resolution source frame, or None (plain upsampling)
        self._guide_swap = False
        # (fbo, texture, energy texture, dilated-energy fbo, dilated-energy texture): stylized rgb +
        # guide luminance, the guide's detail energy and its 3x3 maximum
        self._lowres = None
        self._lowres_stale = True
        self._content = None       # (fbo, texture) at the letterboxed size, for the sharpen pass
        self._hud = None
        # (right, bottom): the target's corner the HUD sits in; top-left unless a window on a captured
        # screen puts it over the part of the picture that shows the window itself (frozen anyway)
        self.hud_corner = (False, False)
        self.fade = 0.0
        self.version = 0           # bumped whenever what render() would draw changes
        self._uploads = 0
        self._tracker = None       # a ChangeTracker once a target asked for incremental redraws
        self._changed = None       # stylized pixels the latest upload changed (None: all)
        self._drawn_into = {}      # id(fbo) -> (fbo, upload count, what else shaped its pixels)
        self._lowres_upload = -1   # the upload the stylized-size textures were computed for

    def _track(self, key, obj):
        self._objects[key] = obj
        return obj

    def _replace(self, key, obj):
        old = self._objects.pop(key, None)
        if old is not None:
            old.release()
        if obj is not None:
            self._objects[key] = obj
        return obj

    @property
    def gl_object_count(self) -> int:
        return len(self._objects)

    @property
    def source_size(self) -> Optional[Size]:
        return self.texture.size if self.texture is not None else None

    @property
    def guided(self) -> bool:
        """Whether render() upsamples guided by the source: a guide larger than the stylized frame
        (at 1:1 the net saw every pixel, and the picture is drawn as it is)."""
        if self.guide is None or self.texture is None or (self.software and not self.guided_on_software):
            return False
        (gw, gh), (tw, th) = self.guide.size, self.texture.size
        return gw > tw or gh > th

    @property
    def detail(self) -> float:
        """How much of the guide's fine luminance detail the guided upsampling adds back, 0..1."""
        return self._detail

    @detail.setter
    def detail(self, value: float) -> None:
        value = float(value)
        if value != self._detail:
            self._detail = value
            self.version += 1

    def upload(self, rgb: np.ndarray, guide: Optional[np.ndarray] = None, guide_order: str = "rgb") -> None:
        """``rgb``: ``(H,W,3) uint8``, top row first. Reuses the texture while the size holds.

        ``guide``: the full-resolution frame ``rgb`` was stylized from, ``(Hg,Wg,3|4) uint8`` in
        ``guide_order`` ("rgb", "bgr" or "bgra", uploaded as it is and swizzled in the shader), top
        row first; with one the picture is upsampled guided by it, without one by Catmull-Rom."""
        h, w = rgb.shape[:2]
        if self.texture is None or self.texture.size != (w, h):
            tex = self.ctx.texture((w, h), 3, alignment=1)
            tex.filter = (self._moderngl.NEAREST, self._moderngl.NEAREST)
            self.texture = self._replace("source", tex)
        self.texture.write(np.ascontiguousarray(rgb), alignment=1)
        if guide is None:
            self.guide = self._replace("guide", None)
        else:
            gh, gw, comps = guide.shape[0], guide.shape[1], guide.shape[2] if guide.ndim == 3 else 1
            if self.guide is None or self.guide.size != (gw, gh) or self.guide.components != comps:
                tex = self.ctx.texture((gw, gh), comps, alignment=1)
                tex.filter = (self._moderngl.NEAREST, self._moderngl.NEAREST)
                self.guide = self._replace("guide", tex)
            self.guide.write(np.ascontiguousarray(guide), alignment=1)
            self._guide_swap = guide_order in GUIDE_SWAPPED
        self._lowres_stale = True
        self.version += 1
        self._uploads += 1
        if self._tracker is not None:
            self._changed = self._tracker.update(rgb, guide)

    def set_hud(self, rgba: Optional[np.ndarray]) -> None:
        """``rgba``: ``(H,W,4) uint8`` overlay drawn at the top-left, or None to hide it."""
        self.version += 1
        if rgba is None:
            self._hud = None
            self._replace("hud", None)
            return
        h, w = rgba.shape[:2]
        tex = self._objects.get("hud")
        if tex is None or tex.size != (w, h):
            tex = self._replace("hud", self.ctx.texture((w, h), 4))
        tex.write(np.ascontiguousarray(rgba).tobytes())
        self._hud = tex

    def _content_target(self, size: Size):
        if self._content is None or self._content[1].size != size:
            import moderngl

            try:
                tex = self._replace("content-tex", self.ctx.texture(size, 3))
                fbo = self._replace("content-fbo", self.ctx.framebuffer(color_attachments=[tex]))
            except moderngl.Error as exc:  # the driver could not allocate it: out of (GPU) memory, mostly
                from ..errors import DeviceError

                raise DeviceError(f"the GL driver could not make a {size[0]}x{size[1]} picture ({exc}); "
                                  "free some memory or use a smaller --size / --infer-size") from None
            self._content = (fbo, tex)
        return self._content

    def _update_lowres(self) -> None:
        """The guided path's first passes, once per upload, at the stylized size: the stylized frame
        and the guide's mean luminance over each of its pixels (one RGBA float texture), the guide's
        detail energy there, and that energy's maximum over TEXT_REACH."""
        size = self.texture.size
        if self._lowres is None or self._lowres[1].size != size:
            tex = self._replace("lowres-tex", self.ctx.texture(size, 4, dtype="f4"))
            energy = self._replace("lowres-energy", self.ctx.texture(size, 4, dtype="f4"))
            for t in (tex, energy):
                t.filter = (self._moderngl.NEAREST, self._moderngl.NEAREST)
            fbo = self._replace("lowres-fbo", self.ctx.framebuffer(color_attachments=[tex, energy]))
            dilated = self._replace("lowres-energy-max", self.ctx.texture(size, 1, dtype="f4"))
            dilated.filter = (self._moderngl.NEAREST, self._moderngl.NEAREST)
            dfbo = self._replace("lowres-energy-max-fbo", self.ctx.framebuffer(color_attachments=[dilated]))
            self._lowres = (fbo, tex, energy, dfbo, dilated)
            self._lowres_upload = -1
        if not self._lowres_stale:
            return
        # the passes read the whole guide (a software renderer's biggest cost on a still screen):
        # when the textures hold the previous frame's results, only the changed part is redone
        partial = self._changed is not None and self._lowres_upload == self._uploads - 1
        if partial and not self._changed.any():
            self._lowres_stale, self._lowres_upload = False, self._uploads
            return
        from .changes import lowres_rects

        self._lowres[0].use()
        self.ctx.viewport = (0, 0, *size)
        self.texture.use(0)
        self.guide.use(1)
        self._guide_down["src"].value = 0
        self._guide_down["guide"].value = 1
        self._guide_down["guide_swap"].value = self._guide_swap
        for scissor in lowres_rects(self._changed) if partial else [None]:
            self.ctx.scissor = scissor
            self._vaos["guide_down"].render(self._moderngl.TRIANGLE_STRIP)
        self._lowres[3].use()
        self._lowres[2].use(0)
        self._energy_max["energy"].value = 0
        self._energy_max["reach"].value = TEXT_REACH
        for scissor in lowres_rects(self._changed, TEXT_REACH) if partial else [None]:
            self.ctx.scissor = scissor
            self._vaos["energy_max"].render(self._moderngl.TRIANGLE_STRIP)
        self.ctx.scissor = None
        self._lowres_stale, self._lowres_upload = False, self._uploads

    def render(self, fbo, size: Size, flip_y: bool = True, hud: bool = True,
               rect: Optional[Tuple[int, int, int, int]] = None, incremental: bool = False) -> Tuple[int, int, int, int]:
        """Draw into ``fbo`` of ``size``; returns the picture's rect. ``rect`` overrides letterboxing.

        ``incremental``: ``fbo`` keeps its pixels between calls and nothing else draws into it (a
        recording's framebuffer): with guided upsampling and no HUD, only the part the newest frame
        changed is redrawn (:mod:`artem_vr.render.changes`), the same pixels for a fraction of the cost."""
        guided = self.guided
        if guided:
            self._update_lowres()
        if incremental:
            done = self._render_changes(fbo, size, flip_y, hud, rect, guided)
            if done is not None:
                return done
        fbo.use()
        self.ctx.viewport = (0, 0, *size)
        fbo.clear(0.0, 0.0, 0.0, 1.0)
        if self.texture is None or min(size) <= 0:
            return 0, 0, 0, 0
        x, y, w, h = rect or letterbox(self.texture.size, size)
        if w <= 0 or h <= 0:
            return 0, 0, 0, 0
        if guided:  # the guide gives the edges: no unsharp mask (it would ring)
            prog, vao = self._guided_pass(world=False)
            self._bind_guided(prog, flip_y)
            self.ctx.viewport = (x, y, w, h)
            vao.render(self._moderngl.TRIANGLE_STRIP)
            if hud and self._hud is not None:
                self._draw_hud(size, flip_y)
            return x, y, w, h
        self._bind_source(self._upsample, flip_y)
        tw, th = self.texture.size
        if self.sharpen > 0.0 and (w > tw or h > th):  # sharpening only helps an upsampled picture
            cfbo, ctex = self._content_target((w, h))
            cfbo.use()
            self.ctx.viewport = (0, 0, w, h)
            self._vaos["upsample"].render(self._moderngl.TRIANGLE_STRIP)
            fbo.use()
            self.ctx.viewport = (x, y, w, h)
            ctex.use(0)
            self._sharpen["src"].value = 0
            self._sharpen["amount"].value = self.sharpen
            self._vaos["sharpen"].render(self._moderngl.TRIANGLE_STRIP)
        else:
            self.ctx.viewport = (x, y, w, h)
            self._vaos["upsample"].render(self._moderngl.TRIANGLE_STRIP)
        if hud and self._hud is not None:
            self._draw_hud(size, flip_y)
        return x, y, w, h

    def _bind_source(self, prog, flip_y: bool) -> None:
        self.texture.use(0)
        prog["src"].value = 0
        prog["src_size"].value = tuple(float(v) for v in self.texture.size)
        prog["flip_y"].value = flip_y
        prog["fade"].value = float(self.fade)

    def _render_changes(self, fbo, size: Size, flip_y: bool, hud: bool, rect, guided: bool):
        """The incremental path of :meth:`render`: the picture's rect when done here, None when the
        caller must draw everything (and then remembers what it drew)."""
        from .changes import ChangeTracker, dirty_rects

        if not guided or self.texture is None or min(size) <= 0:
            return None
        if self._tracker is None:  # from now on each upload is compared with the one before
            self._tracker = ChangeTracker()
        box = rect or letterbox(self.texture.size, size)
        look = (tuple(size), flip_y, box, guided, self.guided_radius, self._detail, self.fade,
                bool(hud and self._hud is not None), self.texture.size)
        last = self._drawn_into.get(id(fbo))
        self._drawn_into[id(fbo)] = (fbo, self._uploads, look)
        if look[7] or last is None or last[0] is not fbo or last[2] != look:
            return None
        if last[1] == self._uploads:
            return box  # this frame is in it already
        if last[1] != self._uploads - 1 or self._changed is None:
            return None
        fbo.use()
        prog, vao = self._guided_pass(world=False)
        self._bind_guided(prog, flip_y)
        self.ctx.viewport = box
        for scissor in dirty_rects(self._changed, box, self.guided_radius, TEXT_REACH, flip_y):
            self.ctx.scissor = scissor
            vao.render(self._moderngl.TRIANGLE_STRIP)
        self.ctx.scissor = None
        return box

    def _guided_pass(self, world: bool):
        """``(program, vertex array)`` of guided.frag for ``self.guided_radius`` (a compile-time
        constant, so the window's loops unroll: a loop bound read from a uniform costs software GL
        half again), on the full-screen quad or the VR world quad; compiled once each."""
        radius = float(self.guided_radius)
        name = f"{'world_guided' if world else 'guided'}-r{radius:g}"
        if name not in self._objects:
            vert = shader_source("screen.vert" if world else "quad.vert")
            source = shader_source("guided.frag")
            frag = source.replace("#version 330\n", f"#version 330\n#define RADIUS {radius:.4f}\n", 1)
            if frag == source:
                raise RuntimeError("guided.frag must start with '#version 330'")
            prog = self._track(name, self.ctx.program(vertex_shader=vert, fragment_shader=frag))
            self._vaos[name] = self._track(f"vao-{name}", self.ctx.vertex_array(prog, [(self._vbo, "2f", "in_pos")]))
        return self._objects[name], self._vaos[name]

    def _bind_guided(self, prog, flip_y: bool) -> None:
        self._lowres[1].use(0)
        self.guide.use(1)
        self._lowres[4].use(2)
        prog["lowres"].value = 0
        prog["guide"].value = 1
        prog["energy"].value = 2
        prog["text_energy"].value = TEXT_ENERGY
        prog["guide_swap"].value = self._guide_swap
        prog["detail"].value = self._detail
        prog["detail_gain"].value = float(self.detail_gain)
        prog["core"].value = DETAIL_CORE
        prog["sigma_r"].value = SIGMA_R
        prog["flip_y"].value = flip_y
        prog["fade"].value = float(self.fade)

    def render_world(self, fbo, size: Size, mvp_bytes: bytes, background=(0.02, 0.02, 0.03)) -> None:
        """Draw the picture as a quad placed by ``mvp_bytes`` (column-major mat4), for VR."""
        guided = self.guided
        if guided:
            self._update_lowres()
        fbo.use()
        self.ctx.viewport = (0, 0, *size)
        fbo.clear(*background, 1.0)
        if self.texture is None:
            return
        if guided:
            prog, vao = self._guided_pass(world=True)
            self._bind_guided(prog, True)
        else:
            prog, vao = self._objects["world"], self._vaos["world"]
            self._bind_source(prog, True)
        prog["mvp"].write(mvp_bytes)
        vao.render(self._moderngl.TRIANGLE_STRIP)

    def draw_texture(self, texture, fbo, size: Size) -> None:
        """Letterbox any GL-convention texture (e.g. a VR eye) into ``fbo``: the VR mirror."""
        fbo.use()
        self.ctx.viewport = (0, 0, *size)
        fbo.clear(0.0, 0.0, 0.0, 1.0)
        x, y, w, h = letterbox(texture.size, size)
        self.ctx.viewport = (x, y, w, h)
        texture.use(0)
        self._overlay["src"].value = 0
        self._overlay["flip_y"].value = False
        self._vaos["overlay"].render(self._moderngl.TRIANGLE_STRIP)

    def _draw_hud(self, size: Size, flip_y: bool) -> None:
        hw, hh = self._hud.size
        fit = min(1.0, size[0] / hw, size[1] / hh)  # too big for the target: smaller, never squashed
        hw, hh = max(1, int(hw * fit)), max(1, int(hh * fit))
        right, bottom = self.hud_corner
        x = size[0] - hw if right else 0
        # GL's y axis points up on screen, down in read-back order
        top_y, bottom_y = (size[1] - hh, 0) if flip_y else (0, size[1] - hh)
        self.ctx.viewport = (x, bottom_y if bottom else top_y, hw, hh)
        self.ctx.enable(self._moderngl.BLEND)
        self.ctx.blend_func = self._moderngl.SRC_ALPHA, self._moderngl.ONE_MINUS_SRC_ALPHA
        self._hud.use(0)
        self._overlay["src"].value = 0
        self._overlay["flip_y"].value = flip_y
        self._vaos["overlay"].render(self._moderngl.TRIANGLE_STRIP)
        self.ctx.disable(self._moderngl.BLEND)

    def release(self) -> None:
        for obj in self._objects.values():
            obj.release()
        self._objects.clear()
        self.texture = self._content = self._hud = self.guide = self._lowres = None
        self._lowres_stale = True
        self._drawn_into.clear()
