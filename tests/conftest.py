"""Shared fixtures. The teacher cache goes to a per-session temp dir so tests never touch ~/.cache."""
from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def _cache_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("artem-cache")
    old = os.environ.get("ARTEM_VR_CACHE")
    os.environ["ARTEM_VR_CACHE"] = str(path)
    yield path
    if old is None:
        os.environ.pop("ARTEM_VR_CACHE", None)
    else:
        os.environ["ARTEM_VR_CACHE"] = old


@pytest.fixture(scope="session")
def full_engine(_cache_dir):
    from artem_vr import StyleEngine

    return StyleEngine.load("full", device="cpu")


@pytest.fixture(scope="session")
def heldout_photos():
    """Photos never used for training (the pruned net trains on other skimage photos)."""
    from skimage import data

    return {"chelsea": data.chelsea(), "coffee": data.coffee()}


@pytest.fixture(scope="module")
def gl():
    """A headless EGL context (Mesa llvmpipe here, the GPU driver elsewhere)."""
    from artem_vr.render.base import headless_context

    ctx = headless_context()
    yield ctx
    ctx.release()
