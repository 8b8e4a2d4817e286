"""The shipped pruned net: present, genuinely smaller, close to the full net on held-out photos."""
import json

import numpy as np
import pytest

from artem_vr import StyleEngine
from artem_vr.resources import models_dir
from helpers.common import psnr


@pytest.fixture(scope="module")
def fast():
    return StyleEngine.load("fast", device="cpu")


def test_fast_model_ships_with_its_recipe(fast):
    assert (models_dir() / "fast.safetensors").is_file()
    recipe = json.loads(fast.metadata["recipe"])
    assert {"widths", "blocks", "steps", "stem_fraction", "feature_weight", "pixel_weight", "gradient_weight",
            "data"} <= set(recipe)
    assert set(recipe["data"]["held_out"]) == {"chelsea", "coffee"}


def test_fast_model_is_structurally_smaller(fast, full_engine):
    assert fast.config.macs(320, 180) < 0.4 * full_engine.config.macs(320, 180)  # 0.34 vs 1.12 GMAC
    assert fast.config.stem and fast.config.polyphase and not hasattr(fast.generator, "contract")
    assert max(fast.config.res_inner) < min(full_engine.config.res_inner)  # pruned residual channels
    assert fast.num_styles == 26


def test_fast_is_close_to_full_on_held_out_photos(fast, full_engine, heldout_photos):
    from PIL import Image

    scores = []
    for photo in heldout_photos.values():
        small = np.asarray(Image.fromarray(photo).resize((270, 180), Image.LANCZOS))
        for style in (0, 5, 9, 13, 21, "3:0.5,12:0.5"):
            scores.append(psnr(fast.stylize(small, style), full_engine.stylize(small, style)))
    # measured 22.1 dB mean here (21.7 over 10 styles at 320x180, README); the goal of issue 5 is 28+.
    # This guards against regressions. The same net trained on the CPU only: 21.7. Not shipped:
    # 23.0 (inner width 24, about 10% slower); earlier nets 22.1 (6 residual blocks), 23.9 (1.6x
    # slower), 19.9
    assert np.mean(scores) >= 21.8
