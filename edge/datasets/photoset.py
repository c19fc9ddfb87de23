"""Labelled folders of real garment photos, with set-valued labels and a sender-disjoint split.

Two layouts are read:
- `DIR/labels.csv` (`image,sender_id,label[,kids]`) with `DIR/images/<image>.jpg`;
- `DIR/<class>/*.jpg`, each folder naming its class (one "sender" per file: no grouping known).

A photo's label is a *set* of model classes: "Shoes" is right as Sandal, Sneaker or Ankle boot.
Labels with no class ("Hat", "Not sure") are left out and counted.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..errors import DataError, first_line
from ..images import folder_files, skipped_note
from ..runtime.classes import CLASS_NAMES, class_index, fold

LABELS_CSV = "labels.csv"
IMAGES_DIR = "images"

# Dataset label -> the Fashion-MNIST classes it may be (sets where the label is ambiguous).
# Labels missing here (Hat, Shorts, Skirt, Body, Other, Not sure, Skip) have no class.
FASHION_MNIST_MAPPING: dict[str, tuple[str, ...]] = {
    "T-Shirt": ("T-shirt/top",),
    "Polo": ("T-shirt/top",),
    "Top": ("T-shirt/top",),
    "Undershirt": ("T-shirt/top",),
    "Pants": ("Trouser",),
    "Hoodie": ("Pullover",),
    "Longsleeve": ("Pullover", "Shirt", "T-shirt/top"),
    "Dress": ("Dress",),
    "Outwear": ("Coat", "Pullover"),
    "Blazer": ("Coat",),
    "Shirt": ("Shirt", "T-shirt/top"),
    "Blouse": ("Shirt", "T-shirt/top"),
    "Shoes": ("Sandal", "Sneaker", "Ankle boot"),
}


SESSION_NAME = re.compile(r"^(\d{8}-\d{6})-\d+$")  # camera --collect: 20261127-091500-000042.jpg


def session_of(path: Path) -> str:
    """The group a photo belongs to for the validation split: its collect session, else itself."""
    match = SESSION_NAME.match(path.stem)
    return f"{path.parent.name}/{match.group(1) if match else path.name}"


@dataclass(frozen=True)
class PhotoItem:
    path: Path
    label: str  # the folder's or the CSV's own label
    group: str  # sender (or file): photos of one group stay on one side of the split


@dataclass
class PhotoSet:
    """Photos whose labels map to the model's classes, and a mask of the classes each may be."""

    root: Path
    items: list[PhotoItem]
    classes: tuple[str, ...]
    allowed: np.ndarray  # (N, classes) bool: the set of right answers per photo
    skipped: Counter = field(default_factory=Counter)  # labels with no class, and their counts
    notes: tuple[str, ...] = ()  # what was set aside when the folder was read, one line each
    missing: tuple[Path, ...] = ()  # labels.csv rows whose image is not there

    def __len__(self) -> int:
        return len(self.items)

    def print_notes(self) -> None:
        """Say on stderr what was set aside when the folder was read."""
        for line in self.notes:
            print(f"note: {line}", file=sys.stderr)

    @property
    def groups(self) -> np.ndarray:
        return np.array([item.group for item in self.items])

    def subset(self, keep: np.ndarray) -> PhotoSet:
        keep = np.asarray(keep)
        if keep.dtype == bool:
            keep = np.flatnonzero(keep)
        items = [self.items[i] for i in keep]
        return PhotoSet(
            self.root, items, self.classes, self.allowed[keep], self.skipped, self.notes
        )


class Listing(NamedTuple):
    """A photo folder's photos, and what was set aside: rows of labels.csv whose image is not
    there, and files in class folders that are not images."""

    items: list[PhotoItem]
    missing: list[Path]
    not_images: list[Path]
    repeated: tuple[Path, ...] = ()  # rows naming an image already listed: one label, one side each


# More missing than this share of labels.csv means the wrong folder, not a few lost files.
MOST_MISSING = 0.1


def read_items(root: Path) -> Listing:
    """The photos of either layout, in a stable order."""
    if not root.is_dir():
        raise DataError(f"photo folder not found: {root}")
    if (root / LABELS_CSV).is_file():
        return _from_csv(root)
    items, not_images = [], []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        images, others = folder_files(folder)
        items += [PhotoItem(path, folder.name, session_of(path)) for path in images]
        not_images += others
    if not items:
        raise DataError(f"{root}: no {LABELS_CSV} and no images in class folders ({root}/<class>/)")
    return Listing(items, [], not_images)


def _from_csv(root: Path) -> Listing:
    """labels.csv's rows, each checked: a name inside DIR/images/ and a label. Rows whose image
    is missing are set aside (and refused when they are more than a few)."""
    path = root / LABELS_CSV
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            text = f.read()
        if "\0" in text:
            line = text[: text.index("\0")].count("\n") + 1
            raise DataError(f"{path} line {line}: a NUL byte (is it a text file?)")
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"cannot read {path}: {first_line(exc)}") from None
    header = [h.strip() for h in rows[0]] if rows else []
    if not {"image", "label"} <= set(header):
        raise DataError(f"{path}: expected the columns image,sender_id,label")
    images = root / IMAGES_DIR
    items, missing, repeated, seen = [], [], [], set()
    for number, values in enumerate(rows[1:], start=2):
        if not any(v.strip() for v in values):
            continue  # a blank line
        if len(values) < len(header):
            raise DataError(f"{path} line {number}: {len(values)} of {len(header)} columns")
        row = dict(zip(header, values, strict=False))
        name, label = row["image"].strip(), row["label"].strip()
        relative = Path(name if Path(name).suffix else f"{name}.jpg")
        if not name or relative.is_absolute() or ".." in relative.parts:
            raise DataError(f"{path} line {number}: image {name!r} must name a file in {images}/")
        if not label:
            raise DataError(f"{path} line {number}: no label for {name}")
        image = images / relative
        if image in seen:  # listed again (another sender?): it must not land on both sides
            repeated.append(image)
            continue
        seen.add(image)
        if image.is_file():
            items.append(PhotoItem(image, label, row.get("sender_id", "").strip() or name))
        else:
            missing.append(image)
    if missing and len(missing) > MOST_MISSING * (len(items) + len(missing)):
        raise DataError(
            f"{len(missing)} of {len(items) + len(missing)} images named in {path} are not in "
            f"{images}/ (looked for {missing[0]})"
        )
    return Listing(items, missing, [], tuple(repeated))


def first_few(names: Sequence[str], shown: int = 3) -> str:
    """'a.jpg, b.jpg, c.jpg, ...': enough names to find the files, one line however many."""
    return ", ".join(names[:shown]) + (", ..." if len(names) > shown else "")


def set_aside_notes(listing: Listing) -> list[str]:
    """One line each for the rows with no image and the files that are not images."""
    notes = []
    if listing.missing:
        notes.append(
            f"{len(listing.missing)} image(s) named in {LABELS_CSV} are not in "
            f"{listing.missing[0].parent}/ and were skipped: "
            f"{first_few([p.name for p in listing.missing])}"
        )
    if listing.repeated:
        notes.append(
            f"{len(listing.repeated)} duplicate row(s) in {LABELS_CSV} (an image listed twice); "
            f"its first row counts: {first_few([p.name for p in listing.repeated])}"
        )
    note = skipped_note(listing.not_images)
    return notes + ([note] if note else [])


def label_sets(
    labels: Sequence[str], classes: Sequence[str], mapping: dict[str, tuple[str, ...]] | None
) -> np.ndarray:
    """(N, classes) bool: for each label, the classes it may be (an empty row: no class).

    `mapping` decides first (the Fashion-MNIST mapping for 10-class models: a "Shirt" photo may
    be a Shirt or a T-shirt/top); a label that names a model class itself (folder `sneaker/` for
    class "Sneaker") maps to that class.
    """
    mapped = {fold(k): v for k, v in (mapping or {}).items()}
    out = np.zeros((len(labels), len(classes)), bool)
    for n, label in enumerate(labels):
        for name in mapped.get(fold(label), (label,)):  # the mapping first, else the label itself
            index = _class_or_none(name, classes)
            if index is not None:
                out[n, index] = True
    return out


def _class_or_none(name: str, classes: Sequence[str]) -> int | None:
    try:
        return class_index(name, classes)
    except ValueError:
        return None


def check_labels(root: Path, names: Sequence[str]) -> None:
    """Every class named for a `labels.csv` folder is one of its labels: all unknowns at once,
    each with the nearest label, before any work."""
    import difflib

    if not (Path(root) / LABELS_CSV).is_file():
        return
    labels = sorted({item.label for item in read_items(Path(root)).items})
    folded = {fold(label) for label in labels}
    unknown = [name for name in names if fold(name) not in folded]
    if not unknown:
        return
    hints = []
    for name in unknown:
        near = difflib.get_close_matches(name, labels, n=1, cutoff=0.6)
        hints.append(f"{name!r}" + (f" (did you mean {near[0]!r}?)" if near else ""))
    raise DataError(
        f"{', '.join(hints)}: not a label of {Path(root) / LABELS_CSV} "
        f"(its labels: {', '.join(labels)})"
    )


def mapping_for(classes: Sequence[str]) -> dict[str, tuple[str, ...]] | None:
    """How photo labels become classes: the Fashion-MNIST sets for the ten Fashion-MNIST classes;
    for a model of your own classes, each label is a class name."""
    return FASHION_MNIST_MAPPING if tuple(classes) == CLASS_NAMES else None


def load_photos(
    root: Path,
    classes: Sequence[str],
    mapping: dict[str, tuple[str, ...]] | None = FASHION_MNIST_MAPPING,
) -> PhotoSet:
    """Read a labelled photo folder for a model with these classes."""
    listing = read_items(Path(root))
    items = listing.items
    allowed = label_sets([item.label for item in items], classes, mapping)
    has_class = allowed.any(1)
    skipped = Counter(item.label for item, ok in zip(items, has_class, strict=True) if not ok)
    kept = [item for item, ok in zip(items, has_class, strict=True) if ok]
    if not kept:
        raise DataError(f"{root}: no photo has a label that maps to the model's classes")
    notes = tuple(set_aside_notes(listing))
    missing = tuple(listing.missing)
    return PhotoSet(Path(root), kept, tuple(classes), allowed[has_class], skipped, notes, missing)


def group_split(
    groups: np.ndarray, val_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Train and validation indices with no group (sender) on both sides.

    Each group goes to validation by a hash of (seed, group), so the split of one group never
    depends on which other groups are present: `bench` reproduces it from the card alone.
    """
    unique = sorted(set(groups.tolist()))
    val_groups = {g for g in unique if unit_hash(f"{seed}:{g}") < val_fraction}
    if not val_groups and len(unique) > 1 and val_fraction > 0:  # few groups: still validate
        val_groups = {min(unique, key=lambda g: unit_hash(f"{seed}:{g}"))}
    is_val = np.array([g in val_groups for g in groups.tolist()], bool)
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)


def unit_hash(text: str) -> float:
    """A number in [0, 1) fixed by `text`: which side of a split a group falls on."""
    digest = hashlib.sha256(text.encode("utf-8", "surrogateescape")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def set_correct(probs: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """True where the top-1 class is any member of the photo's set of right answers."""
    top1 = probs.argmax(1)
    return allowed[np.arange(len(top1)), top1]
