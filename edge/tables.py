"""Rich tables for the terminal (imported only when a table is printed, to keep start-up lean)."""

from __future__ import annotations

import sys
from collections import Counter

from rich.console import Console
from rich.table import Table

# Piped output keeps whole lines (files, CI logs) instead of wrapping at 80 columns.
console = Console(width=None if sys.stdout.isatty() else 160)


def results_table(results: list[dict]) -> None:
    table = Table(show_edge=False)
    for name, justify in (
        ("path", "left"),
        ("label", "left"),
        ("conf", "right"),
        ("runner-up", "left"),
    ):
        table.add_column(name, justify=justify, overflow="fold")  # never cut a path short
    for r in results:
        if "error" in r:
            table.add_row(r["path"], f"[red]error: {r['error']}[/red]", "", "")
            continue
        runner = r["top_k"][1] if len(r["top_k"]) > 1 else None
        table.add_row(
            r["path"],
            r["label"],
            f"{r['score']:.1%}",
            f"{runner['label']} {runner['score']:.1%}" if runner else "",
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
