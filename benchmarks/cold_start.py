"""Cold start of `edgeclf classify one.png` against a bare OpenCV + LiteRT script doing the same.

    python benchmarks/cold_start.py [--runs 15]

Both run the model `classify` uses by default (the bundled photo model). Prints the median wall time
of each and their ratio (the target is within 1.3x).
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
from pathlib import Path

import cv2

from edgeclf.edge.classifier import default_photo_model

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


def median_walls(commands: list[list[str]], runs: int) -> list[float]:
    """Median wall time of each command, run in turns (a, b, c, a, b, c...) so that a busy spell
    of a shared machine weighs on all of them alike.

    Bytecode is compiled first and PYTHONDONTWRITEBYTECODE is dropped, as after a pip install:
    an editable checkout run with that variable set would compile edgeclf from source every time,
    which no user's install does."""
    compileall.compile_dir(ROOT / "edge", quiet=1)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    times: list[list[float]] = [[] for _ in commands]
    for run in range(runs + 1):
        for i, cmd in enumerate(commands):
            start = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True, env=env)
            if run == 0:
                continue  # the warm-up: page cache and any bytecode still missing
            times[i].append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        image = Path(tmp) / "one.jpg"
        photo = next((ROOT / "tests" / "fixtures" / "photos" / "images").glob("*.jpg"))
        cv2.imwrite(str(image), cv2.imread(str(photo)))
        edgeclf = str(Path(sys.executable).with_name("edgeclf"))
        model = str(default_photo_model())
        bare, cli, table = median_walls(
            [
                [sys.executable, "-c", BARE, model, str(image)],
                [edgeclf, "classify", str(image), "--json"],
                [edgeclf, "classify", str(image)],
            ],
            args.runs,
        )
    print(f"bare OpenCV+LiteRT script: {bare * 1000:.0f} ms (median of {args.runs})")
    print(f"edgeclf classify --json:   {cli * 1000:.0f} ms  ({cli / bare:.2f}x)")
    print(f"edgeclf classify (table):  {table * 1000:.0f} ms  ({table / bare:.2f}x)")


if __name__ == "__main__":
    main()
