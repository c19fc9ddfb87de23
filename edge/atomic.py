"""Write files so that readers never see half of one: temp file in the same folder, then rename.

Output paths are checked before long work starts (`check_writable_file`), so a typo costs a
second, not a whole batch.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from .errors import EdgeclfError


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temp path beside `target`; on success it replaces `target`, on error it vanishes."""
    import secrets  # ~3 ms: kept off the start-up path of commands that write nothing

    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Keep the suffix: some writers (Keras, OpenCV) choose the format from it, and Keras wants
    # both of `.weights.h5`. The name is ASCII whatever the target's (OpenCV crashes on
    # undecodable names). The kernel applies the umask to the 0o666 mode, so no process-wide
    # umask change (threads may be writing too).
    suffix = ".weights.h5" if target.name.endswith(".weights.h5") else target.suffix
    suffix = suffix if suffix.isascii() else ""
    tmp_path = target.parent / f".edgeclf-tmp-{secrets.token_hex(6)}{suffix}"
    os.close(os.open(tmp_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        tmp_path.unlink(missing_ok=True)


def write_bytes(target: str | os.PathLike, data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def write_text(target: str | os.PathLike, text: str) -> None:
    """UTF-8; file names that were not UTF-8 (surrogate escapes) are written back as they were."""
    write_bytes(target, text.encode("utf-8", "surrogateescape"))


def write_new(target: Path, data) -> Path:
    """Write `data` to `target`, or `stem-1`, `stem-2`... whichever does not exist yet: complete
    files only, and never over another file (a hard link claims the name atomically)."""
    import secrets

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".edgeclf-tmp-{secrets.token_hex(6)}"
    try:
        tmp.write_bytes(bytes(data))
        for n in range(10_000):
            name = target if n == 0 else target.with_name(f"{target.stem}-{n}{target.suffix}")
            try:
                os.link(tmp, name)
                return name
            except FileExistsError:
                continue
    finally:
        tmp.unlink(missing_ok=True)
    raise EdgeclfError(f"no free file name beside {target}")


def check_writable_dir(folder: Path, option: str) -> None:
    """Fail now, in one line, if `folder` cannot be created or written to."""
    if folder.exists() and not folder.is_dir():
        raise EdgeclfError(f"{option} {folder}: exists and is not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EdgeclfError(
            f"{option} {folder}: cannot create the folder ({exc.strerror})"
        ) from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise EdgeclfError(f"{option} {folder}: the folder is not writable")


def check_writable_file(path: Path, option: str) -> None:
    """Fail now, in one line, if a file cannot be written at `path` (a folder, an unwritable or
    missing parent that cannot be created)."""
    if path.is_dir():
        raise EdgeclfError(f"{option} {path}: is a folder, not a file")
    check_writable_dir(path.parent, option)
