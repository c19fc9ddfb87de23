"""What `teach` prints at the end: a per-class table, the int8 check, and honest warnings."""

from __future__ import annotations

import sys

from .run import TeachResult

CHANCE_FACTOR = 1.5  # validation under this many times chance: the model learned little


def warnings(result: TeachResult) -> list[str]:
    """The lines that keep a passing check from reading as a good model."""
    out = []
    chance = 1 / len(result.classes)
    if result.int8_accuracy is not None and result.int8_accuracy < CHANCE_FACTOR * chance:
        out.append(
            f"validation accuracy {result.int8_accuracy:.0%} is near chance ({chance:.0%}): "
            "the classes may look alike to the model; collect more varied photos"
        )
    unvalidated = [c.name for c in result.classes if not c.val and not c.kept]
    if unvalidated:
        out.append(
            f"no validation photo for {', '.join(unvalidated)}: its accuracy is unknown "
            "(collect more, or in a second sitting)"
        )
    return out


def print_result(result: TeachResult) -> None:
    from rich.table import Table

    from ..console import console

    kept = sum(c.kept for c in result.classes)
    table = Table(title=f"Taught {len(result.classes) - kept} classes in {result.seconds:.1f} s")
    for column in ("class", "train", "validation", "right (int8)"):  # kept: train = bank photos
        table.add_column(column, justify="left" if column == "class" else "right")
    for c in result.classes:
        right = "kept" if c.kept else "-" if c.val_accuracy is None else f"{c.val_accuracy:.0%}"
        table.add_row(c.name, str(c.train), str(c.val), right)
    console.print(table)
    if kept:
        console.print(
            f"kept: the base's {kept} classes, as they were (train: their photos in its feature "
            "bank); validation is of the new classes"
        )
    if result.int8_accuracy is not None:
        console.print(
            f"validation: float head {result.float_accuracy:.2%}, int8 model "
            f"{result.int8_accuracy:.2%} ({result.drop_points:+.2f} points), "
            f"agreement {result.agreement:.2%}; L2 {result.l2:g}"
        )
    console.print(
        f"{result.photos} photos ({result.cached} features from the cache); wrote {result.out} "
        f"and {result.out.with_suffix('.json')}"
    )
    if result.unreadable:
        print(
            f"skipped {len(result.unreadable)} unreadable photo(s), e.g. {result.unreadable[0]}",
            file=sys.stderr,
        )
    for line in warnings(result):
        print(f"warning: {line}", file=sys.stderr)
