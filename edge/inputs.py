"""Expand the command line's files, folders (recursive) and glob patterns into image paths."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from .images import is_image_path


def expand_inputs(args: Iterable[str]) -> list[tuple[Path, str | None]]:
    """(path, error) pairs in command-line order; error says why an argument yielded nothing."""
    found: list[tuple[Path, str | None]] = []
    for arg in args:
        path = Path(arg)
        if path.is_dir():
            images = sorted(p for p in path.rglob("*") if p.is_file() and is_image_path(p))
            found += [(p, None) for p in images] or [(path, "no images in folder")]
        elif any(ch in arg for ch in "*?[") and not path.exists():
            import glob  # only for patterns the shell did not expand

            matches = sorted(Path(m) for m in glob.glob(arg, recursive=True) if Path(m).is_file())
            found += [(p, None) for p in matches] or [(path, "no files match")]
        else:
            found.append((path, None))  # missing files are reported when read
    return found
