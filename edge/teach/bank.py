"""A bank of the base's own photos' features, kept beside the base model (`photo_int8.bank.npz`),
so `teach --keep-classes` can add classes while the base's training photos stay on the desktop.

Fifty training photos per base class, and their mirror images, as the int8 features the base's
graph gives them: 117 KB for the bundled model. Rebuild it with `make bank` after retraining:

    python -m edgeclf.edge.teach.bank PHOTOS [--base MODEL] [--per-class 50]
"""

from __future__ import annotations

import argparse
import zipfile
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..atomic import atomic_path
from ..datasets.photoset import group_split, load_photos, mapping_for
from ..errors import EdgeclfError
from ..runtime.card import sha256_of
from ..runtime.classifier import DEFAULT_MODEL, Classifier
from ..tflite.model_file import dense_weights
from .features import FeatureReader

BANK_SUFFIX = ".bank.npz"
PER_CLASS = 50


class FeatureBank(NamedTuple):
    features: np.ndarray  # (n, width) float32: photos and their mirror images
    per_class: dict[str, int]  # photos per base class (a class with none is not in the bank)


def bank_path(model: Path) -> Path:
    return model.with_name(model.stem + BANK_SUFFIX)


def load_bank(base: Classifier) -> FeatureBank:
    """The bank beside the base, checked to be the base's own."""
    path = bank_path(base.path)
    if not path.is_file():
        raise EdgeclfError(
            f"--keep-classes needs {path.name} beside {base.path.name} (features of the base's "
            "own photos): the bundled photo model has one; `make bank` builds one for yours"
        )
    sha, raw, scale, zero_point, classes, counts = read_bank_file(path)
    if sha != sha256_of(base.content):
        raise EdgeclfError(f"{path} belongs to another model: rebuild it with `make bank`")
    width = dense_weights(base.content)[0].shape[1]
    if raw.shape[-1] != width:
        raise EdgeclfError(
            f"{path}: not a usable feature bank (features {raw.shape[-1]} wide, the base's "
            f"{width}); rebuild it with `make bank`"
        )
    features = (raw.astype(np.float32) - float(zero_point)) * float(scale)
    per_class = {str(c): int(n) for c, n in zip(classes, counts, strict=True)}
    return FeatureBank(features.reshape(-1, raw.shape[-1]), per_class)


BANK_KEYS = ("features", "scale", "zero_point", "sha256", "classes", "counts")
MAX_BANK_MEMBER = 64 * 2**20  # the bundled bank's features are 160 KB


def read_bank_file(path: Path):
    """A bank's arrays, each checked (keys, sizes before reading, dtypes, shapes, finiteness):
    a damaged or tampered bank is one line, never a traceback or a bomb."""

    def refuse(why: str) -> EdgeclfError:
        return EdgeclfError(
            f"{path}: not a usable feature bank ({why}); rebuild it with `make bank`"
        )

    try:
        with np.load(path, allow_pickle=False) as saved:
            missing = [key for key in BANK_KEYS if key not in saved.files]
            if missing:
                raise refuse(f"no {', '.join(missing)}")
            big = [i.filename for i in saved.zip.infolist() if i.file_size > MAX_BANK_MEMBER]
            if big:
                raise refuse(f"{big[0]} is over {MAX_BANK_MEMBER // 2**20} MB")
            arrays = {key: saved[key] for key in BANK_KEYS}
    except EdgeclfError:
        raise
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise refuse(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None
    raw, scale, zero_point = arrays["features"], arrays["scale"], arrays["zero_point"]
    sha, classes, counts = arrays["sha256"], arrays["classes"], arrays["counts"]
    if raw.dtype != np.int8 or raw.ndim not in (2, 3) or not raw.size:
        raise refuse(f"features of {raw.dtype} {raw.shape}, not int8 rows")
    if (
        scale.shape
        or not np.issubdtype(scale.dtype, np.floating)
        or not np.isfinite(scale)
        or scale <= 0
    ):
        raise refuse("its scale is not one positive number")
    if (
        zero_point.shape
        or not np.issubdtype(zero_point.dtype, np.integer)
        or not -128 <= zero_point <= 127
    ):
        raise refuse("its zero point is not one int8 number")
    if sha.shape or sha.dtype.kind != "U":
        raise refuse("its sha256 is not one string")
    if classes.ndim != 1 or classes.dtype.kind != "U" or counts.shape != classes.shape:
        raise refuse("its classes and counts do not pair up")
    if not np.issubdtype(counts.dtype, np.integer) or (counts < 0).any():
        raise refuse("its counts are not photo counts")
    return str(sha), raw, scale, zero_point, classes, counts


def build_bank(
    photos_root: Path, base_path: Path = DEFAULT_MODEL, per_class: int = PER_CLASS
) -> Path:
    """Pick `per_class` photos of each base class from its training side of the split its card
    records, and save their features (and their mirror images') beside the base."""
    base = Classifier(base_path)
    split = base.card.validation if base.card else None
    if split is None:
        raise EdgeclfError(f"{base_path}: its card records no photo split to draw a bank from")
    classes = base.contract.classes
    photos = load_photos(photos_root, classes, mapping_for(classes))
    train_idx, _ = group_split(photos.groups, split.val_fraction, split.seed)
    rng = np.random.default_rng(split.seed)
    chosen, owner = pick_per_class(photos.allowed[train_idx], per_class, rng)
    chosen = train_idx[chosen]
    reader = FeatureReader(base)
    table = reader.read_all([photos.items[i].path for i in chosen])
    readable = table.readable
    if not readable.any():
        raise EdgeclfError(
            f"{photos_root}: no readable photo of the base's classes on its training side"
        )
    features = table.features[readable]
    raw = np.clip(np.round(features / reader.scale + reader.zero_point), -128, 127)
    out = bank_path(base.path)
    with atomic_path(out) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(
            f,
            features=raw.astype(np.int8),
            scale=np.float32(reader.scale),
            zero_point=np.int32(reader.zero_point),
            sha256=sha256_of(base.content),
            classes=np.array(classes),
            counts=np.bincount(owner[readable], minlength=len(classes)),
        )
    return out


def pick_per_class(
    allowed: np.ndarray, per_class: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Up to `per_class` photos for each class, none twice: those whose label names the class
    alone first ("Shirt" may be a T-shirt too), at random among equals. Indices and classes."""
    sizes = allowed.sum(1)
    taken = np.zeros(len(allowed), bool)
    chosen, owner = [], []
    for c in range(allowed.shape[1]):
        candidates = np.flatnonzero(allowed[:, c] & ~taken)
        candidates = candidates[np.lexsort((rng.random(len(candidates)), sizes[candidates]))]
        picked = candidates[:per_class]
        taken[picked] = True
        chosen.append(picked)
        owner.append(np.full(len(picked), c))
    return np.concatenate(chosen), np.concatenate(owner)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", type=Path, help="the base's labelled photo folder (labels.csv)")
    parser.add_argument("--base", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--per-class", type=int, default=PER_CLASS)
    args = parser.parse_args()
    try:
        out = build_bank(args.photos, args.base, args.per_class)
    except EdgeclfError as exc:
        raise SystemExit(f"error: {exc}") from None
    print(f"wrote {out} ({out.stat().st_size / 1024:.0f} KB)")


if __name__ == "__main__":
    main()
