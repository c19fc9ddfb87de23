"""The Fashion-MNIST class names (the default model's classes) and forgiving class-name lookup."""

from __future__ import annotations

from collections.abc import Sequence

CLASS_NAMES: tuple[str, ...] = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
NUM_CLASSES = len(CLASS_NAMES)


def class_index(name: str, classes: Sequence[str] = CLASS_NAMES) -> int:
    """Index of a class name, forgiving case, spaces, '_' and '-' (catalog folders say `ankle_boot`)."""
    wanted = fold(name)
    for i, known in enumerate(classes):
        if wanted in (fold(known), *(fold(p) for p in known.split("/"))):
            return i
    raise ValueError(f"unknown class {name!r}; allowed: {', '.join(classes)}")


def fold(name: str) -> str:
    """A class name reduced to lower-case letters and digits, for lenient matching."""
    return "".join(ch for ch in name.lower() if ch.isalnum())
