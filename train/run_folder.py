"""Where a run goes when `--out` is not given: `runs/<task>`, then `runs/<task>2`, ... as
Ultralytics numbers its runs, so a second run never collides with (or resumes) the first."""

from __future__ import annotations

from pathlib import Path

RUNS = Path("runs")


def next_run_folder(task: str, root: Path = RUNS) -> Path:
    """The first of root/task, root/task2, ... that does not exist or is an empty folder."""
    for number in range(1, 10_000):
        folder = root / (task if number == 1 else f"{task}{number}")
        if not folder.exists() or (folder.is_dir() and not any(folder.iterdir())):
            return folder
    raise RuntimeError(f"no free run folder under {root}")
