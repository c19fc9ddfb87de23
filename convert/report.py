"""The verification table printed after a conversion."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table


def print_report(report: dict, out: Path) -> None:
    both = " (each with its mirror, averaged)" if report.get("flip_average") else ""
    table = Table(title=f"Verified {out} on {report['images']:,} {report['split']} images{both}")
    for column in ("float acc", "TFLite acc", "drop (points)", "top-1 agreement", "size"):
        table.add_column(column, justify="right")
    table.add_row(
        f"{report['float_accuracy']:.2%}",
        f"{report['tflite_accuracy']:.2%}",
        f"{report['drop_points']:+.2f}",
        f"{report['agreement']:.2%}",
        f"{report['model_bytes'] / 1024:.1f} KB",
    )
    Console().print(table)
    print(f"wrote {out} and {out.with_suffix('.json')}")
