"""The VR sink against a stand-in for the part of OpenVR it calls.

No OpenVR runtime or headset exists on test machines, so ``FakeOpenVR`` stands in for
``openvr.init``/``shutdown``/``VRCompositor`` and the IVRSystem calls, with pyopenvr's own
ctypes structs (Texture_t, TrackedDevicePose_t, VREvent_t, HmdMatrix*) and error classes, so the
contracts (argument types, raised exceptions, event draining) are the real ones. Each submit reads
the submitted texture back from GL through its handle (``.glo``): the assertions are on real
pixels. The headset path is tested against the API contract, not on hardware.
"""
import numpy as np
import openvr
import pytest

from artem_vr.controls import Controls, Settings
from artem_vr.errors import VrError
from artem_vr.render import vrmath
from artem_vr.render.compositor import Compositor
from artem_vr.render.vr import FADE_AFTER, VrSink

EYE_SIZE = (96, 80)
IPD = 0.064


def _m34(rows):
    m = openvr.HmdMatrix34_t()
    for i in range(3):
        for j in range(4):
            m.m[i][j] = rows[i][j]
    return m


def _m44(rows):
    m = openvr.HmdMatrix44_t()
    for i in range(4):
        for j in range(4):
            m.m[i][j] = rows[i][j]
    return m


class FakeSystem:
    def __init__(self, vr):
        self.vr = vr

    def getRecommendedRenderTargetSize(self):
        return EYE_SIZE

    def getEyeToHeadTransform(self, eye):
        dx = -IPD / 2 if eye == openvr.Eye_Left else IPD / 2
        return _m34(vrmath.translation(dx, 0, 0)[:3])

    def getProjectionMatrix(self, eye, near, far):
        return _m44(vrmath.perspective(100.0, EYE_SIZE[0] / EYE_SIZE[1], near, far))

    def pollNextEvent(self, event):
        self.vr.calls.append("pollNextEvent")
        if not self.vr.events:
            return False
        event.eventType = self.vr.events.pop(0)
        return True

    def acknowledgeQuit_Exiting(self):
        self.vr.calls.append("acknowledgeQuit_Exiting")


class FakeCompositor:
    def __init__(self, vr):
        self.vr = vr

    def waitGetPoses(self, render_poses, game_poses):
        self.vr.calls.append("waitGetPoses")
        pose = render_poses[openvr.k_unTrackedDeviceIndex_Hmd]
        pose.bPoseIsValid = True
        pose.mDeviceToAbsoluteTracking = _m34(self.vr.hmd_pose[:3])
        return render_poses, game_poses

    def submit(self, eye, texture, bounds=None, submitFlags=openvr.Submit_Default):
        assert isinstance(texture, openvr.Texture_t)
        assert texture.eType == openvr.TextureType_OpenGL
        self.vr.calls.append(f"submit:{'L' if eye == openvr.Eye_Left else 'R'}")
        if self.vr.submit_errors:
            error = self.vr.submit_errors.pop(0)
            if error is not None:
                raise error(error.error_value if hasattr(error, "error_value") else 0)
        ctx = self.vr.ctx()
        tex = ctx.external_texture(texture.handle, EYE_SIZE, 4, 0, "f1")
        pixels = np.frombuffer(tex.read(), np.uint8).reshape(EYE_SIZE[1], EYE_SIZE[0], 4)
        self.vr.submitted.append((eye, pixels[::-1, :, :3].copy()))  # GL rows are bottom first


class FakeOpenVR:
    """Delegates to the real pyopenvr module for everything but the runtime calls."""

    def __init__(self, init_error=None):
        self.init_error = init_error
        self.calls, self.events, self.submitted, self.submit_errors = [], [], [], []
        self.hmd_pose = np.eye(4)
        self.hmd_pose[1, 3] = 1.6
        self.ctx = lambda: None
        self.shutdowns = 0

    def __getattr__(self, name):
        return getattr(openvr, name)

    def init(self, app_type):
        assert app_type == openvr.VRApplication_Scene
        if self.init_error is not None:
            raise self.init_error(self.init_error_value, "")
        self.calls.append("init")
        return FakeSystem(self)

    @property
    def init_error_value(self):
        return {"InitError_Init_HmdNotFound": 108, "InitError_Init_PathRegistryNotFound": 110}[
            self.init_error.__name__]

    def VRCompositor(self):
        return FakeCompositor(self)

    def shutdown(self):
        self.calls.append("shutdown")
        self.shutdowns += 1


def make_sink(fake, view="fill"):
    controls = Controls(Settings(0))
    sink = VrSink(controls, view=view, context="egl", openvr_module=fake)
    sink.prepare()
    ctx = sink.open((64, 48))
    fake.ctx = lambda: ctx
    return sink, Compositor(ctx), controls


def picture():
    img = np.zeros((60, 80, 3), np.uint8)
    img[:30] = (220, 40, 40)    # red top half
    img[30:] = (40, 40, 220)    # blue bottom half
    return img


def test_both_eyes_get_the_composited_picture():
    fake = FakeOpenVR()
    sink, comp, _ = make_sink(fake)
    comp.upload(picture())
    try:
        assert sink.present(comp)
    finally:
        comp.release()
        sink.close()
    assert [e for e, _ in fake.submitted] == [openvr.Eye_Left, openvr.Eye_Right]
    for _, eye in fake.submitted:
        # letterboxed 80x60 into 96x80 -> picture rows 4..75; top red, bottom blue, upright
        assert eye[10, 48, 0] > 200 and eye[10, 48, 2] < 60
        assert eye[70, 48, 2] > 200 and eye[70, 48, 0] < 60
        assert eye[1, 48].max() == 0  # letterbox bar
    assert np.array_equal(fake.submitted[0][1], fake.submitted[1][1])


def test_call_order_per_frame_and_shutdown():
    fake = FakeOpenVR()
    sink, comp, _ = make_sink(fake)
    comp.upload(picture())
    for _ in range(3):
        assert sink.present(comp)
    comp.release()
    sink.close()
    sink.close()  # idempotent: shutdown exactly once
    frames = fake.calls[1:-1]
    assert fake.calls[0] == "init" and fake.calls[-1] == "shutdown" and fake.shutdowns == 1
    assert frames == ["pollNextEvent", "waitGetPoses", "submit:L", "submit:R"] * 3


def test_quit_event_is_acknowledged_and_ends_the_loop():
    fake = FakeOpenVR()
    sink, comp, _ = make_sink(fake)
    comp.upload(picture())
    assert sink.present(comp)
    fake.events = [openvr.VREvent_EnterStandbyMode, openvr.VREvent_Quit]
    submitted = len(fake.submitted)
    assert sink.present(comp) is False
    assert "acknowledgeQuit_Exiting" in fake.calls and len(fake.submitted) == submitted
    comp.release()
    sink.close()
    assert fake.shutdowns == 1


def test_standby_keeps_running():
    fake = FakeOpenVR()
    sink, comp, _ = make_sink(fake)
    comp.upload(picture())
    fake.events = [openvr.VREvent_EnterStandbyMode, openvr.VREvent_TrackedDeviceUserInteractionEnded]
    assert sink.present(comp) and len(fake.submitted) == 2
    comp.release()
    sink.close()


def test_do_not_have_focus_is_tolerated_and_other_errors_reported_once(capsys):
    fake = FakeOpenVR()
    focus = openvr.error_code.CompositorError_DoNotHaveFocus
    invalid = openvr.error_code.CompositorError_InvalidTexture
    fake.submit_errors = [focus, focus, invalid, None, invalid, invalid]
    sink, comp, _ = make_sink(fake)
    comp.upload(picture())
    for _ in range(4):
        assert sink.present(comp)
    comp.release()
    sink.close()
    err = capsys.readouterr().err
    assert err.count("InvalidTexture") == 1 and "DoNotHaveFocus" not in err


@pytest.mark.parametrize("error", ["InitError_Init_HmdNotFound", "InitError_Init_PathRegistryNotFound"])
def test_init_errors_become_one_line_with_a_window_hint(error):
    fake = FakeOpenVR(init_error=getattr(openvr.error_code, error))
    sink = VrSink(Controls(Settings(0)), openvr_module=fake)
    with pytest.raises(VrError) as info:
        sink.prepare()
    text = str(info.value)
    assert "\n" not in text and "--window" in text
    assert openvr.getVRInitErrorAsEnglishDescription(fake.init_error_value).split(" (")[0] in text
    sink.close()
    assert fake.shutdowns == 0  # nothing to shut down after a failed init


def test_fades_to_grid_after_missed_submits():
    fake = FakeOpenVR()
    sink, comp, _ = make_sink(fake)
    comp.upload(picture())
    for _ in range(FADE_AFTER + 1):
        sink.present(comp)
    assert comp.fade == 0.0
    for _ in range(40):
        sink.present(comp)
    assert 0.0 < comp.fade < 1.0
    faded = fake.submitted[-1][1]
    comp.upload(picture())
    sink.present(comp)
    assert comp.fade == 0.0
    fresh = fake.submitted[-1][1]
    assert np.abs(faded.astype(int) - fresh).mean() > 5
    comp.release()
    sink.close()


def test_screen_view_places_a_world_locked_screen_in_each_eye():
    fake = FakeOpenVR()
    sink, comp, _ = make_sink(fake, view="screen")
    sink.distance, sink.width = 0.4, 0.3  # close, so the disparity is several pixels at 96 px
    comp.upload(np.full((60, 80, 3), 255, np.uint8))
    sink.present(comp)
    left, right = fake.submitted[-2][1], fake.submitted[-1][1]
    cols = lambda img: np.nonzero(img[EYE_SIZE[1] // 2, :, 0] > 128)[0]  # noqa: E731
    l_cols, r_cols = cols(left), cols(right)
    assert len(l_cols) > 10 and len(r_cols) > 10
    centre = EYE_SIZE[0] / 2
    # stereo disparity: the screen sits right of centre in the left eye, left of it in the right
    assert l_cols.mean() > centre > r_cols.mean()
    assert left[2, 2].max() < 20  # dark surroundings
    # world-locked: turning the head moves the screen the other way in the eye
    yaw = vrmath.yaw_rotation(np.radians(10))
    fake.hmd_pose = fake.hmd_pose @ yaw
    sink.present(comp)
    assert cols(fake.submitted[-2][1]).mean() > l_cols.mean() + 3
    comp.release()
    sink.close()


def test_screen_math_with_known_matrices():
    head = vrmath.translation(0, 1.6, 0)
    model = vrmath.screen_model(head, distance=2.0, width=2.0, aspect=2.0)
    # screen centre 2 m ahead at eye height; corners at +-1 m by +-0.5 m
    assert np.allclose(model @ [0, 0, 0, 1], [0, 1.6, -2, 1])
    assert np.allclose(model @ [1, 1, 0, 1], [1, 2.1, -2, 1])
    proj = vrmath.perspective(90.0, 1.0, 0.1, 100)
    left_eye = vrmath.translation(-0.032, 0, 0)
    mvp = proj @ vrmath.eye_view(head, left_eye) @ model
    x, y, z = vrmath.project(mvp, (0, 0))
    assert x == pytest.approx(0.032 / 2.0) and y == pytest.approx(0.0) and -1 < z < 1
    # the right edge 1 m right at 2 m with a 90 degree fov lands at x = (1 + 0.032) / 2
    assert vrmath.project(mvp, (1, 0))[0] == pytest.approx(1.032 / 2)
    # placement follows the head's yaw only: a pitched head still gets an upright screen ahead
    turned = head @ vrmath.yaw_rotation(np.pi / 2)
    assert np.allclose(vrmath.screen_model(turned, 2.0, 2.0, 2.0) @ [0, 0, 0, 1], [-2, 1.6, 0, 1])
    pitched = head @ np.array([[1, 0, 0, 0], [0, 0.8, -0.6, 0], [0, 0.6, 0.8, 0], [0, 0, 0, 1]])
    assert np.allclose(vrmath.screen_model(pitched, 2.0, 2.0, 2.0) @ [0, 0, 0, 1], [0, 1.6, -2, 1])


def test_openvr_matrices_convert_row_major():
    rows = [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]]
    assert np.array_equal(vrmath.mat34_to_44(_m34(rows))[:3], rows)
    m = np.arange(16.0).reshape(4, 4)
    assert np.array_equal(vrmath.mat44(_m44(m)), m)
    assert np.frombuffer(vrmath.gl_matrix(m), "f4")[1] == 4.0  # column-major for GLSL


def test_a_broken_xr_runtime_json_is_named(tmp_path, monkeypatch):
    """The OpenXR loader only says "runtime unavailable"; the error names what XR_RUNTIME_JSON gets wrong."""
    from artem_vr.render.vr.openxr_runtime import runtime_json_problem

    monkeypatch.delenv("XR_RUNTIME_JSON", raising=False)
    assert runtime_json_problem() is None
    monkeypatch.setenv("XR_RUNTIME_JSON", str(tmp_path / "missing.json"))
    assert "does not exist" in runtime_json_problem()
    bad = tmp_path / "bad.json"
    bad.write_text('{"file_format_version": "1.0.0"}')
    monkeypatch.setenv("XR_RUNTIME_JSON", str(bad))
    assert "not an OpenXR runtime manifest" in runtime_json_problem()
    bad.write_text('{"file_format_version": "1.0.0", "runtime": {"library_path": "./libnope_monado.so"}}')
    assert str(tmp_path / "libnope_monado.so") in runtime_json_problem()
    (tmp_path / "libnope_monado.so").write_bytes(b"")
    assert runtime_json_problem() is None  # looks right: the loader decides the rest
    bad.write_text('{"file_format_version": "1.0.0", "runtime": {"library_path": "libopenxr_monado.so"}}')
    assert runtime_json_problem() is None  # a bare name: the system's library search finds it or not
