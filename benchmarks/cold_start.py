"""Cold start of `edgeclf classify one.png` against a bare OpenCV + LiteRT script doing the same.

    python benchmarks/cold_start.py [--runs 15] [--breakdown]

Both run the model `classify` uses by default (the bundled photo model). Prints the median wall time
of each and its ratio to the bare script (the target is within 1.3x), and the same for CPU time,
which a busy neighbour on a shared host disturbs far less.
"""

from __future__ import annotations

import argparse
import compileall
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import cv2

from edgeclf.edge.runtime.classifier import DEFAULT_MODEL

ROOT = Path(__file__).resolve().parent.parent
BARE = """
import sys, cv2, numpy as np
from ai_edge_litert.interpreter import Interpreter
it = Interpreter(model_path=sys.argv[1]); it.allocate_tensors()
inp, out = it.get_input_details()[0], it.get_output_details()[0]
_, h, w, c = inp["shape"]
image = cv2.imread(sys.argv[2], cv2.IMREAD_COLOR if c == 3 else cv2.IMREAD_GRAYSCALE)
image = cv2.resize(image, (w, h))
image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB) if c == 3 else image
it.set_tensor(inp["index"], (image.astype(np.int16) - 128).astype(np.int8).reshape(inp["shape"]))
it.invoke()
print(int(it.get_tensor(out["index"]).argmax()))
"""


@dataclass
class Timing:
    """Medians of one command's runs: wall time, and the CPU time (user + system) its process used,
    which a busy neighbour on a shared host disturbs far less than the wall clock."""

    wall: float
    cpu: float


def run_once(cmd: list[str], env: dict) -> tuple[float, float]:
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}")
    return wall, usage.ru_utime + usage.ru_stime


def median_timings(commands: list[list[str]], runs: int) -> list[Timing]:
    """Median times of each command, run in turns (a, b, c, a, b, c...) so that a busy spell
    of a shared machine weighs on all of them alike.

    Bytecode is compiled first and PYTHONDONTWRITEBYTECODE is dropped, as after a pip install:
    an editable checkout run with that variable set would compile edgeclf from source every time,
    which no user's install does."""
    compileall.compile_dir(ROOT / "edge", quiet=1)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    times: list[list[tuple[float, float]]] = [[] for _ in commands]
    for run in range(runs + 1):
        for i, cmd in enumerate(commands):
            measured = run_once(cmd, env)
            if run:  # run 0 is the warm-up: page cache and any bytecode still missing
                times[i].append(measured)
    return [
        Timing(statistics.median(t[0] for t in each), statistics.median(t[1] for t in each))
        for each in times
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="also time the bare script after importing typer, then edgeclf's classify modules",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        image = Path(tmp) / "one.jpg"
        photo = next((ROOT / "tests" / "fixtures" / "photos" / "images").glob("*.jpg"))
        cv2.imwrite(str(image), cv2.imread(str(photo)))
        edgeclf = str(Path(sys.executable).with_name("edgeclf"))

        def bare(imports: str = "") -> list[str]:
            """The bare script, after `imports` when the breakdown asks for them."""
            return [sys.executable, "-c", imports + BARE, str(DEFAULT_MODEL), str(image)]

        rows = {
            "bare OpenCV+LiteRT script": bare(),
            "edgeclf classify --json": [edgeclf, "classify", str(image), "--json"],
            "edgeclf classify (table)": [edgeclf, "classify", str(image)],
        }
        if args.breakdown:  # where the difference goes: imports, then the work itself
            rows["bare + import typer"] = bare("import typer\n")
            rows["bare + edgeclf's imports"] = bare(  # loaded as the console script loads them
                "from edgeclf.edge.cli.entry import load_command_line\nload_command_line()\n"
                "import edgeclf.edge.classify.run, edgeclf.edge.recipes.photo\n"
            )
        timings = dict(zip(rows, median_timings(list(rows.values()), args.runs), strict=True))
    base = timings["bare OpenCV+LiteRT script"]
    print(f"medians of {args.runs} runs      wall            CPU (user + system)")
    for name, t in timings.items():
        print(
            f"{name:26s} {t.wall * 1000:4.0f} ms {t.wall / base.wall:5.2f}x"
            f"   {t.cpu * 1000:4.0f} ms {t.cpu / base.cpu:5.2f}x"
        )


if __name__ == "__main__":
    main()
