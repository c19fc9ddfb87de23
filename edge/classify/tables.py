"""`classify`'s tables as plain aligned text.

`classify` is the command people run on one photo and wait for: importing rich for its few rows
cost 60 ms of a 215 ms start (1.64x a bare OpenCV + LiteRT script, against 1.28x without), so
these tables are formatted with `str.ljust`. The desktop commands (train, convert, bench) use rich.
"""

from __future__ import annotations

import sys
from collections import Counter

from ..runtime.prediction import Result


def red(text: str) -> str:
    return f"\033[31m{text}\033[0m" if sys.stdout.isatty() else text


def print_table(
    headers: list[str],
    rows: list[list[str]],
    right: set[int] = frozenset(),
    title: str = "",
    alarm: set[int] = frozenset(),
) -> None:
    """Columns padded to their widest cell (`right`: indices aligned right), a rule under the
    header, the rows in `alarm` in red on a terminal. Cells are never cut: a long path widens
    its column."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        padded = (
            str(cell).rjust(w) if i in right else str(cell).ljust(w)
            for i, (cell, w) in enumerate(zip(cells, widths, strict=True))
        )
        return "  ".join(padded).rstrip()

    out = [title] if title else []
    out += [line(headers), "  ".join("─" * w for w in widths)]
    out += [red(line(row)) if i in alarm else line(row) for i, row in enumerate(rows)]
    print("\n".join(out) + "\n", flush=True)


def results_table(results: list[Result]) -> None:
    rows, failed = [], set()
    for r in results:
        if not r.ok:
            failed.add(len(rows))
            rows.append([r.path, f"error: {r.error}", "", ""])
            continue
        runner = r.runner_up
        rows.append(
            [
                r.path,
                r.label,
                f"{r.score:.1%}",
                f"{runner.label} {runner.score:.1%}" if runner else "",
            ]
        )
    print_table(["path", "label", "conf", "runner-up"], rows, right={2}, alarm=failed)


def counts_table(counts: Counter, errors: int) -> None:
    rows = [[label, str(n)] for label, n in counts.most_common()]
    if errors:
        rows.append(["errors", str(errors)])
    alarm = {len(rows) - 1} if errors else set()
    print_table(["class", "images"], rows, right={1}, title="Per-class counts", alarm=alarm)


def mismatch_table(rows: list[dict], checked: int) -> None:
    title = f"Catalog mismatches: {len(rows)} of {checked} labelled images"
    cells = [[r["path"], r["catalog"], r["predicted"], f"{r['score']:.1%}"] for r in rows]
    print_table(["path", "catalog", "predicted", "conf"], cells, right={3}, title=title)
