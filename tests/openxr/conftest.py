"""The OpenXR tests run against a real runtime: Monado's simulated headset, its compositor in an Xvfb
window. They need Monado, which Debian 12 does not package: ``bash .ci/monado_env.sh test`` makes a
Debian 13 root with it and runs them there (``.ci/run`` does). Anywhere else they skip."""
from __future__ import annotations

import pytest

from helpers.openxr_monado import Monado, monado_missing, start_xvfb


@pytest.fixture(scope="session", autouse=True)
def _needs_monado():
    why = monado_missing()
    if why:
        pytest.skip(f"OpenXR tests: {why}")


@pytest.fixture(scope="session")
def xdisplay(_needs_monado):
    proc, display = start_xvfb()
    yield display
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def monado(xdisplay, tmp_path):
    runtime = Monado(xdisplay, tmp_path).start()
    yield runtime
    runtime.stop()
