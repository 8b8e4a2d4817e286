"""Matrix math for the VR ``screen`` view: OpenVR matrices to numpy, the floating screen's
placement, and where a point lands in an eye. Row-major 4x4 numpy throughout, column vectors
(``clip = P @ V @ M @ p``), metres, OpenVR's axes (+x right, +y up, -z forward)."""
from __future__ import annotations

from typing import Tuple

import numpy as np


def mat34_to_44(m) -> np.ndarray:
    """An OpenVR ``HmdMatrix34_t`` (``.m`` 3x4 rows) or a 3x4 array -> 4x4 numpy."""
    rows = m.m if hasattr(m, "m") else m
    out = np.eye(4, dtype=np.float64)
    out[:3, :4] = [[float(rows[i][j]) for j in range(4)] for i in range(3)]
    return out


def mat44(m) -> np.ndarray:
    """An OpenVR ``HmdMatrix44_t`` (``.m`` 4x4 rows) or a 4x4 array -> 4x4 numpy."""
    rows = m.m if hasattr(m, "m") else m
    return np.array([[float(rows[i][j]) for j in range(4)] for i in range(4)], dtype=np.float64)


def perspective(fov_y_deg: float, aspect: float, near: float, far: float) -> np.ndarray:
    """Symmetric GL projection (what ``getProjectionMatrix`` returns for a symmetric frustum)."""
    f = 1.0 / np.tan(np.radians(fov_y_deg) / 2)
    return np.array([[f / aspect, 0, 0, 0], [0, f, 0, 0],
                     [0, 0, (far + near) / (near - far), 2 * far * near / (near - far)], [0, 0, -1, 0]])


def translation(x: float, y: float, z: float) -> np.ndarray:
    out = np.eye(4)
    out[:3, 3] = (x, y, z)
    return out


def yaw_rotation(angle: float) -> np.ndarray:
    """Rotation about +y by ``angle`` radians."""
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, 0, s, 0], [0, 1, 0, 0], [-s, 0, c, 0], [0, 0, 0, 1]], dtype=np.float64)


def head_yaw(hmd_pose: np.ndarray) -> float:
    """Heading of the head's forward axis (-z) about +y, ignoring pitch and roll."""
    forward = -hmd_pose[:3, 2]
    return float(np.arctan2(-forward[0], -forward[2]))


def screen_model(hmd_pose: np.ndarray, distance: float, width: float, aspect: float) -> np.ndarray:
    """Model matrix of a screen ``width`` m wide (``aspect`` = w/h) placed ``distance`` m ahead of
    the head, at eye height, upright and facing it. The quad's vertices are [-1,1]^2 at z=0."""
    yaw = head_yaw(hmd_pose)
    rot = yaw_rotation(yaw)
    centre = hmd_pose[:3, 3] + rot[:3, :3] @ np.array([0.0, 0.0, -distance])
    scale = np.diag([width / 2, width / aspect / 2, 1.0, 1.0])
    return translation(*centre) @ rot @ scale


def eye_view(hmd_pose: np.ndarray, eye_to_head: np.ndarray) -> np.ndarray:
    """World -> eye: the inverse of the eye's pose (head pose, then the eye's offset in the head)."""
    return np.linalg.inv(hmd_pose @ eye_to_head)


def project(mvp: np.ndarray, point=(0.0, 0.0)) -> Tuple[float, float, float]:
    """NDC ``(x, y, z)`` of a quad-space point ``(u, v)`` (z=0) under ``mvp``."""
    clip = mvp @ np.array([point[0], point[1], 0.0, 1.0])
    return tuple(float(c) for c in clip[:3] / clip[3])


def gl_matrix(m: np.ndarray) -> bytes:
    """4x4 row-major numpy -> the column-major float32 bytes a GLSL ``mat4`` uniform expects."""
    return np.ascontiguousarray(m.T, dtype="f4").tobytes()
