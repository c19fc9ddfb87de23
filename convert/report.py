"""The verification table printed after a conversion."""

from __future__ import annotations

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
