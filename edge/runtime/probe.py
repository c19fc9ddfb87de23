"""Load and invoke a model nobody vouches for (no card) in a child process, under a memory and a
time limit: a damaged flatbuffer can make an interpreter allocate gigabytes or spin, and the
child takes that, not the command (or the 1 GB Pi) it came from."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROBE_MEMORY = 2 * 2**30  # address space: LiteRT and NumPy need about 1 GB of it to start
PROBE_SECONDS = 30.0

_PROBE = """
import sys
import numpy as np
from edgeclf.edge.runtime.backends import load_backend
interpreter = load_backend(sys.argv[2] or None).interpreter_class(model_path=sys.argv[1])
interpreter.allocate_tensors()
for detail in interpreter.get_input_details():
    interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
interpreter.invoke()
"""


def _limit_memory() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (PROBE_MEMORY, PROBE_MEMORY))


def probe_failure(path: Path, backend: str | None) -> str | None:
    """Why the model cannot load and run once within the limits, or None when it can."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", _PROBE, str(path), backend or ""],
            capture_output=True,
            timeout=PROBE_SECONDS,
            preexec_fn=_limit_memory,
        )
    except subprocess.TimeoutExpired:
        return f"it did not load and run once within {PROBE_SECONDS:.0f} s"
    if done.returncode != 0:
        return f"it cannot load and run once within {PROBE_MEMORY // 2**30} GB of memory"
    return None
