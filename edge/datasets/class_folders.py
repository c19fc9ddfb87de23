"""Classes of your own, as people collect them: one folder per class. The checks `teach` and
`train --classes` both make before any work, and the warnings both give."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from ..errors import EdgeclfError
from ..images import is_image_path
from ..runtime.classes import fold, has_control, same_key_clashes
from .sittings import holdout_size

MIN_CLASSES, MAX_CLASSES = 2, 100
FEW_PHOTOS = 20  # below this per class, say that more photos would help


def class_folders(root: Path, minimum: int = MIN_CLASSES) -> list[str]:
    """The class folders of `root` (`root/<class>/*.jpg`), sorted. Their names are folder names
    already (a 250-character one too): only names people type are held to `check_class_name`.
    `minimum` is 1 where the classes join a base's own (`teach --keep-classes`)."""
    if not root.is_dir():
        raise EdgeclfError(f"{root}: not a folder")
    names = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not names:
        holds = "holds images but" if any(is_image_path(p) for p in root.iterdir()) else "has"
        raise EdgeclfError(
            f"{root} {holds} no class folders: put each class in its own subfolder "
            f"({root}/<class>/*.jpg)"
        )
    check_class_count(names, f"{root} has", minimum)
    check_folder_names(root, names)
    return names


def check_folder_names(root: Path, names: Sequence[str]) -> None:
    """Each folder a class of its own, before any work: a name that is no usable class name (a
    newline in it) and folders that fold to one class (`Jeans/` and `jeans/`) are refused."""
    for name in names:  # the file system took its length and characters; labels.txt may not
        if has_control(name) or not fold(name):
            raise EdgeclfError(
                f"{root}/{ascii(name)[1:-1]}: not a usable class name (a control character such as "
                "a newline, or no letter, digit or symbol): rename the folder"
            )
    clashes = same_key_clashes(names)
    if clashes:
        pairs = "; ".join(" and ".join(f"{root / n}/" for n in group) for group in clashes)
        raise EdgeclfError(
            f"{pairs} would be one class (names are matched ignoring case and punctuation): "
            "merge them into one folder, or rename one"
        )


def check_class_count(names: Sequence[str], where: str, minimum: int = MIN_CLASSES) -> None:
    if not minimum <= len(names) <= MAX_CLASSES:
        hint = (
            ": one class alone can join the base model's own with --keep-classes"
            if len(names) == 1
            else ""
        )
        raise EdgeclfError(
            f"{where} {len(names)} class(es); teaching needs {minimum} to {MAX_CLASSES}{hint}"
        )


def check_background(background: str | None, names: Sequence[str]) -> None:
    """`--background-class` must be one of the classes: its folder holds the no-garment frames."""
    if background is not None and background not in names:
        raise EdgeclfError(
            f"--background-class {background!r} is not one of the classes ({', '.join(names)}); "
            f"collect no-garment frames under it first"
        )


def few_photos_warning(
    counts: Mapping[str, int], what: str = "photos", val_fraction: float | None = None
) -> str | None:
    """The warning for classes with fewer than FEW_PHOTOS `what`, if any. Given the share held
    out to validate, it says how many to collect (20 collected train on 17 at 0.15)."""
    thin = [f"{name} ({n})" for name, n in counts.items() if n < FEW_PHOTOS]
    if not thin:
        return None
    advice = "collect more for a model that generalises"
    if val_fraction is not None:
        wanted = next(
            n
            for n in range(FEW_PHOTOS, 10 * FEW_PHOTOS)
            if n - holdout_size(n, val_fraction) >= FEW_PHOTOS
        )
        advice = (
            f"collect at least {wanted} of each (about {val_fraction:.0%} are held out to validate)"
        )
    return f"warning: fewer than {FEW_PHOTOS} {what} for {', '.join(thin)}: {advice}"


def split_counts(names: Sequence[str], train: Sequence[int], val: Sequence[int]) -> str:
    """`photos per class (train+validation): jeans 17+3, ...`: said before any training."""
    pairs = ", ".join(f"{n} {t}+{v}" for n, t, v in zip(names, train, val, strict=True))
    return f"photos per class (train+validation): {pairs}"
