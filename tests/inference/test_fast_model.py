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


@pytest.fixture(scope="module")
def balanced():
    return StyleEngine.load("balanced", device="cpu")


def test_balanced_model_is_a_learned_stem_on_the_full_trunk_and_tail(balanced, full_engine):
    """The middle net: only the full-resolution head is replaced (by the same learned stem as the
    fast net's); the six 32-wide residual blocks, their reflection padding and the 9x9 output conv
    are the full net's shapes, so it is about half the work."""
    assert (models_dir() / "balanced.safetensors").is_file()
    cfg, full = balanced.config, full_engine.config
    assert cfg.stem and cfg.polyphase and not hasattr(balanced.generator, "contract")
    assert cfg.res_inner == full.res_inner and cfg.res_padding == full.res_padding == "reflect"
    assert cfg.kernel_out == full.kernel_out == 9 and cfg.expand == full.expand
    assert cfg.macs(320, 180) < 0.6 * full.macs(320, 180)  # 0.62 vs 1.12 GMAC
    recipe = json.loads(balanced.metadata["recipe"])
    assert recipe["widths"][2] == 32 and recipe["res_padding"] == "reflect"
    assert set(recipe["data"]["held_out"]) == {"chelsea", "coffee"}


def test_balanced_is_closer_to_full_than_fast(balanced, fast, full_engine, heldout_photos):
    from PIL import Image

    scores = {"fast": [], "balanced": []}
    for photo in heldout_photos.values():
        small = np.asarray(Image.fromarray(photo).resize((270, 180), Image.LANCZOS))
        for style in (0, 5, 9, 13, 21, "3:0.5,12:0.5"):
            reference = full_engine.stylize(small, style)
            for name, engine in (("fast", fast), ("balanced", balanced)):
                scores[name].append(psnr(engine.stylize(small, style), reference))
    # measured 28.2 dB here (fast: 22.1); 27.3 over 10 styles at 320x180 (README)
    assert np.mean(scores["balanced"]) >= 27.6
    assert np.mean(scores["balanced"]) >= np.mean(scores["fast"]) + 3


def test_a_missing_shipped_model_is_a_clear_error(monkeypatch, tmp_path):
    from artem_vr.errors import ModelError
    from artem_vr.inference import engine

    monkeypatch.setattr(engine, "models_dir", lambda: tmp_path)
    for name in ("fast", "balanced"):
        with pytest.raises(ModelError, match=f"the '{name}' model is not in this install .*; use --model full"):
            StyleEngine.load(name, device="cpu")
