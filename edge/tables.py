"""Rich tables for the terminal (imported only when a table is printed, to keep start-up lean)."""

from __future__ import annotations

from collections import Counter

from rich.table import Table

from .console import console
from .prediction import Result


def results_table(results: list[Result]) -> None:
    table = Table(show_edge=False)
    for name, justify in (
        ("path", "left"),
        ("label", "left"),
        ("conf", "right"),
        ("runner-up", "left"),
    ):
        table.add_column(name, justify=justify, overflow="fold")  # never cut a path short
    for r in results:
        if not r.ok:
            table.add_row(r.path, f"[red]error: {r.error}[/red]", "", "")
            continue
        runner = r.runner_up
        table.add_row(
            r.path,
            r.label,
            f"{r.score:.1%}",
            f"{runner.label} {runner.score:.1%}" if runner else "",
        )
    console.print(table)


def counts_table(counts: Counter, errors: int) -> None:
    table = Table(title="Per-class counts", show_edge=False)
    table.add_column("class")
    table.add_column("images", justify="right")
    for label, n in counts.most_common():
        table.add_row(label, str(n))
    if errors:
        table.add_row("[red]errors[/red]", f"[red]{errors}[/red]")
    console.print(table)


def mismatch_table(rows: list[dict], checked: int) -> None:
    title = f"Catalog mismatches: {len(rows)} of {checked} labelled images"
    table = Table(title=title, show_edge=False)
    for name in ("path", "catalog", "predicted", "conf"):
        table.add_column(name, justify="right" if name == "conf" else "left", overflow="fold")
    for row in rows:
        table.add_row(row["path"], row["catalog"], row["predicted"], f"{row['score']:.1%}")
    console.print(table)
