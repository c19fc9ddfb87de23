"""The verification table printed after a conversion."""

from __future__ import annotations

import sys
from pathlib import Path

from rich.table import Table

from ..edge.console import console


def print_report(report: dict, out: Path) -> None:
    both = " (each with its mirror, averaged)" if report.get("flip_average") else ""
    table = Table(title=f"Verified {out}{both}")
    for column in ("images", "float acc", "TFLite acc", "drop (points)", "top-1 agreement"):
        table.add_column(column, justify="right")
    for row in (report, *report.get("also", [])):
        table.add_row(
            f"{row['images']:,} {row['split']}",
            f"{row['float_accuracy']:.2%}",
            f"{row['tflite_accuracy']:.2%}",
            f"{row['drop_points']:+.2f}",
            f"{row['agreement']:.2%}",
        )
    console.print(table)
    print(f"wrote {out} ({report['model_bytes'] / 1024:.1f} KB) and {out.with_suffix('.json')}")
    for line in quality_warnings(report):
        print(f"warning: {line}", file=sys.stderr)


def quality_warnings(report: dict) -> list[str]:
    """ "Verified" says the int8 model matches the float one, not that either is any good."""
    out = []
    classes = report.get("classes") or 0
    chance = 1 / classes if classes else 0.0
    if classes and report["tflite_accuracy"] < 1.5 * chance:
        out.append(
            f"{report['split']} accuracy {report['tflite_accuracy']:.0%} is near chance "
            f"({chance:.0%}): the int8 model matches the float one, but neither learned much"
        )
    checked = report.get("classes_checked", classes)
    if classes and checked < classes:
        out.append(
            f"the {report['split']} photos cover only {checked} of {classes} classes: "
            "the others were not checked"
        )
    return out
