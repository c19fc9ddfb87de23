"""The Fashion-MNIST class names (the default model's classes), forgiving class-name lookup, and
`--classes` parsed one way for every command."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import EdgeclfError

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


MAX_CLASS_NAME = 100


def check_class_name(name: str, option: str = "--classes") -> str:
    """A class name is a folder name too: no path separators, no leading dot, no NUL, short."""
    if name.startswith(".") or any(ch in name for ch in "/\\\0") or len(name) > MAX_CLASS_NAME:
        shown = name[:40] + ("..." if len(name) > 40 else "")
        raise EdgeclfError(
            f"{option}: {shown!r} is not a usable class name: it names a folder, so no '/', "
            f"'\\', NUL or leading '.', and at most {MAX_CLASS_NAME} characters"
        )
    return name


def parse_classes(text: str) -> tuple[str, ...]:
    """`--classes jeans,chinos,shorts`: names usable as folder names, each once."""
    names = tuple(check_class_name(name.strip()) for name in text.split(",") if name.strip())
    if len(set(names)) != len(names):
        raise EdgeclfError(f"--classes lists a name twice: {text!r}")
    return names
