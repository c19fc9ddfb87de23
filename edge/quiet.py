"""Silence C++ libraries that log straight to file descriptors 1 and 2 (TensorFlow, LiteRT)."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def redirected(fds: tuple[int, ...], to: int) -> Iterator[None]:
    """File descriptors `fds` point at `to` while the block runs, then back where they were."""
    saved = [os.dup(target) for target in fds]
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        for target in fds:
            os.dup2(to, target)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for target, copy in zip(fds, saved, strict=True):
            os.dup2(copy, target)
            os.close(copy)


@contextlib.contextmanager
def captured_fds(fds: tuple[int, ...] = (1, 2), keep: bool = False) -> Iterator[str | None]:
    """Redirect `fds` while the block runs: to a temp log whose path is yielded when `keep`,
    else to /dev/null (no tempfile import: this runs on every `classify` start)."""
    if keep:
        import tempfile

        fd, log_path = tempfile.mkstemp(prefix="edgeclf-", suffix=".log")
    else:
        fd, log_path = os.open(os.devnull, os.O_WRONLY), None
    try:
        with redirected(fds, fd):
            yield log_path
    finally:
        os.close(fd)


@contextlib.contextmanager
def stderr_said() -> Iterator[list[str]]:
    """What C code wrote to file descriptor 2 while the block ran (libjpeg's one warning per
    image), kept off the terminal: the caller decides what it means."""
    read_end, write_end = os.pipe()
    said: list[str] = []
    try:
        with redirected((2,), write_end):
            yield said
        os.set_blocking(read_end, False)
        with contextlib.suppress(BlockingIOError):
            said.append(os.read(read_end, 65536).decode("utf-8", "replace"))
    finally:
        os.close(write_end)
        os.close(read_end)


def quiet_tensorflow() -> None:
    """Keep TensorFlow's C++ start-up chatter off the terminal (before it is first imported)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
