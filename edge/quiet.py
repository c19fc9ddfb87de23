"""Silence C++ libraries that log straight to file descriptors 1 and 2 (TensorFlow, LiteRT)."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator


@contextlib.contextmanager
def captured_fds(fds: tuple[int, ...] = (1, 2), keep: bool = False) -> Iterator[str | None]:
    """Redirect `fds` to a temp log while the block runs; yield the log's path when `keep`."""
    log = tempfile.NamedTemporaryFile(prefix="edgeclf-", suffix=".log", delete=False)  # noqa: SIM115 (closed below)
    saved = [os.dup(fd) for fd in fds]
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        for fd in fds:
            os.dup2(log.fileno(), fd)
        yield log.name if keep else None
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, copy in zip(fds, saved, strict=True):
            os.dup2(copy, fd)
            os.close(copy)
        log.close()
        if not keep:
            os.unlink(log.name)
