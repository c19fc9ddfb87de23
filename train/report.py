"""The short table printed at the end of training."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from ..edge.console import console


def print_summary(metrics: dict, out: Path) -> None:
    table = Table(title=f"Trained {metrics['arch']}", show_header=False)
    test_data = metrics.get("test_data", "fashion-mnist test")
    table.add_row(f"{test_data} (float)", f"{metrics['test_accuracy']:.2%}")
    photos = metrics.get("photos")
    if photos:
        table.add_row(
            "real-photo validation (float)",
            f"{photos['val_lenient_accuracy']:.2%} on {photos['val_photos']:,} photos from "
            f"{photos['val_senders']} senders; one-class labels {photos['val_strict_accuracy']:.2%}",
        )
    elif metrics.get("val_accuracy") is not None:
        table.add_row("validation accuracy", f"{metrics['val_accuracy']:.2%}")
    table.add_row("parameters", f"{metrics['params']:,}")
    table.add_row("epochs", str(metrics["epochs"]))
    table.add_row("training time", f"{metrics['train_seconds'] / 60:.1f} min")
    scored = {k: v for k, v in metrics["per_class_accuracy"].items() if v is not None}
    worst = min(scored.items(), key=lambda kv: kv[1])
    table.add_row("weakest class", f"{worst[0]} {worst[1]:.1%}")
    console.print(table)
    files = [Path(f).name for f in metrics.get("files", [])]
    console.print(f"wrote {out}/: {', '.join(files)}", highlight=False, soft_wrap=True)
