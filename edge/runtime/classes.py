"""The Fashion-MNIST class names (the default model's classes), forgiving class-name lookup, and
`--classes` parsed one way for every command."""

from __future__ import annotations

import unicodedata
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
    """Index of a class name: as spelled first, then forgiving case, spaces, '_' and '-'
    (catalog folders say `ankle_boot`)."""
    if name in classes:
        return list(classes).index(name)
    wanted = fold(name)
    for i, known in enumerate(classes):
        if wanted and wanted in (fold(known), *(fold(p) for p in known.split("/"))):
            return i
    raise ValueError(f"unknown class {name!r}; allowed: {', '.join(classes)}")


def fold(name: str) -> str:
    """A class name reduced for lenient matching: Unicode-normalised, case-folded, without
    spaces, punctuation or control characters. Letters of any script, digits and symbols stay,
    so emoji names keep apart (👖 is not 👟)."""
    normal = unicodedata.normalize("NFKC", name).casefold()
    return "".join(ch for ch in normal if unicodedata.category(ch)[0] in "LNSM")


MAX_CLASS_NAME = 100


def has_control(name: str) -> bool:
    """A newline, tab or other control character (zero-width joiners in emoji are fine)."""
    return any(unicodedata.category(ch) in ("Cc", "Zl", "Zp") for ch in name)


def check_class_name(name: str, option: str = "--classes") -> str:
    """A class name is a folder name and a line of labels.txt too: no path separators, no
    leading dot, no control character, something to match on, and short."""
    if (
        name.startswith(".")
        or any(ch in name for ch in "/\\\0")
        or has_control(name)
        or not fold(name)
        or len(name) > MAX_CLASS_NAME
    ):
        shown = ascii(name[:40])[1:-1] + ("..." if len(name) > 40 else "")
        raise EdgeclfError(
            f"{option}: '{shown}' is not a usable class name: it names a folder and a line of "
            f"labels.txt, so no '/', '\\', control character or leading '.', at least one "
            f"letter, digit or symbol, and at most {MAX_CLASS_NAME} characters"
        )
    return name


def same_key_clashes(names: Sequence[str]) -> list[tuple[str, ...]]:
    """Groups of names that fold to one key (`Jeans` and `jeans`): they would be one class."""
    by_key: dict[str, list[str]] = {}
    for name in names:
        by_key.setdefault(fold(name), []).append(name)
    return [tuple(group) for group in by_key.values() if len(group) > 1]


def near_copy(name: str, classes: Sequence[str]) -> str | None:
    """The class that `name` is a near-copy of, leniently: the same folded name or part of one
    (`t-shirt` for T-shirt/top, `Ankle  boot`), or its plural (`trousers`)."""
    key = fold(name)
    for known in classes:
        for part in (known, *known.split("/")):
            other = fold(part)
            if other and key in (other, other + "s", other + "es"):
                return known
    return None


def did_you_mean(name: str, others: Sequence[str]) -> str | None:
    """Another name `name` is likely a typo of: one edit away (two for names over 8 letters), a swap of
    neighbouring letters counting as one (`hta` for `hat`)."""
    key = fold(name)
    limit = 1 if len(key) <= 8 else 2
    for other in others:
        if other != name and fold(other) != key and edits(key, fold(other)) <= limit:
            return other
    return None


def edits(a: str, b: str) -> int:
    """Damerau-Levenshtein distance (optimal string alignment)."""
    rows = [list(range(len(b) + 1))]
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            row[j] = min(rows[-1][j] + 1, row[j - 1] + 1, rows[-1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], rows[-2][j - 2] + 1)
        rows.append(row)
    return rows[-1][-1]


def parse_classes(text: str) -> tuple[str, ...]:
    """`--classes jeans,chinos,shorts`: names usable as folder names, each once."""
    names = tuple(check_class_name(name.strip()) for name in text.split(",") if name.strip())
    if len(set(names)) != len(names):
        raise EdgeclfError(f"--classes lists a name twice: {text!r}")
    for group in same_key_clashes(names):
        raise EdgeclfError(
            f"--classes: {' and '.join(group)} would be one class (names are matched ignoring "
            "case and punctuation): keep one"
        )
    return names
