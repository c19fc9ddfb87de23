"""The short table printed at the end of training."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table


def print_summary(metrics: dict, out: Path) -> None:
    table = Table(title=f"Trained {metrics['arch']}", show_header=False)
    table.add_row("test accuracy (float)", f"{metrics['test_accuracy']:.2%}")
    if metrics.get("val_accuracy") is not None:
        table.add_row("validation accuracy", f"{metrics['val_accuracy']:.2%}")
    table.add_row("parameters", f"{metrics['params']:,}")
    table.add_row("epochs", str(metrics["epochs"]))
    table.add_row("training time", f"{metrics['train_seconds'] / 60:.1f} min")
    worst = min(metrics["per_class_accuracy"].items(), key=lambda kv: kv[1])
    table.add_row("weakest class", f"{worst[0]} {worst[1]:.1%}")
    table.add_row("model", str(out / "model.keras"))
    table.add_row("plots", f"{out / 'curves.png'}, {out / 'confusion.png'}")
    Console().print(table)
