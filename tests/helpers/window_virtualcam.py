"""``artem-vr --window --virtualcam`` with a pyvirtualcam backend registered in this process (no
v4l2loopback needed): prints how many frames the camera got, their shape, and the run's exit code."""
import json
import sys

import numpy as np
import pyvirtualcam

sent = []


class Backend:
    def __init__(self, *, width, height, fps, fourcc, device, **kw):
        self.shape = (height, width, 3)

    def send(self, frame):
        assert frame.dtype == np.uint8 and frame.size == int(np.prod(self.shape))
        sent.append(frame.reshape(self.shape).copy())

    def close(self):
        pass

    def device(self):
        return "/dev/video-test"

    def native_fourcc(self):
        return None


pyvirtualcam.register_backend("artem-test", Backend)
from artem_vr.cli import main  # noqa: E402

code = main(sys.argv[1:])
print(json.dumps({"code": code, "sent": len(sent), "shape": list(sent[-1].shape) if sent else None,
                  "std": float(sent[-1].std()) if sent else 0.0}))
