"""Where edgeclf keeps what it can always make again (photo features, models from the fleet)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """`$EDGECLF_CACHE`, else the user's cache folder (`~/.cache/edgeclf`)."""
    root = os.environ.get("EDGECLF_CACHE") or os.environ.get("XDG_CACHE_HOME")
    return Path(root) / "edgeclf" if root else Path.home() / ".cache" / "edgeclf"
