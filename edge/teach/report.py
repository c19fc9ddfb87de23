"""What `teach` prints at the end: a per-class table, the int8 check, and its notes."""

from __future__ import annotations

import sys
from pathlib import Path

from .run import TeachResult


def plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "es" if word.endswith("s") else "s")


def print_result(result: TeachResult, written: tuple[Path, ...]) -> None:
    from rich.table import Table

    from ..console import console

    kept = sum(c.kept for c in result.classes)
    taught = len(result.classes) - kept
    title = f"Taught {plural(taught, 'class')} in {result.seconds:.1f} s"
    table = Table(title=title + (f", among {len(result.classes)}" if kept else ""))
    leaks = any(c.taken for c in result.classes)
    columns = ("class", "train", "validation", "right (int8)") + (("wrong, mostly as",) * leaks)
    for column in (*columns, "split"):
        table.add_column(column, justify="right" if column in columns[1:4] else "left")
    for c in result.classes:  # kept: train = the base's photos in its bank
        right = "kept" if c.kept else "-" if c.val_accuracy is None else f"{c.val_accuracy:.0%}"
        taken = (f"{c.taken_for} ({c.taken} of {c.val})" if c.taken else "",) * leaks
        table.add_row(c.name, str(c.train), str(c.val), right, *taken, c.why)
    console.print(table)
    if kept:
        console.print(
            f"kept: the base's {kept} classes, as they were (train: their photos in its feature "
            "bank); validation is of the new classes"
        )
    if result.int8_accuracy is not None:
        optimistic = " (optimistic: see the note)" if result.optimistic else ""
        console.print(
            f"validation: float head {result.float_accuracy:.2%}, int8 model "
            f"{result.int8_accuracy:.2%} ({result.drop_points:+.2f} points int8 minus float), "
            f"agreement {result.agreement:.2%}; L2 {result.l2:g}{optimistic}"
        )
    console.print(
        f"{result.photos} photos ({result.cached} features from the cache); "
        f"wrote {' and '.join(map(str, written))}"
    )
    for line in result.notes:
        print(line, file=sys.stderr)
