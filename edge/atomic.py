"""Write files so that readers never see half of one: temp file in the same folder, then rename.

Output paths are checked before long work starts (`check_writable_file`), so a typo costs a
second, not a whole batch.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from .errors import EdgeclfError, WriteError


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temp path beside `target`; on success it replaces `target`, on error it vanishes.

    A symlink is never replaced: the file it points to is. A character device or FIFO
    (`--report /dev/stdout`) is written through, not renamed over. A write that fails (a full
    disk, /proc, a name too long) is one line, with no temp file left behind."""
    target = Path(target)
    try:
        if is_stream(target):
            yield from _through(target)
            return
        if target.is_symlink():
            target = Path(os.path.realpath(target))
        yield from _replacing(target)
    except OSError as exc:
        raise WriteError(f"cannot write {target}: {exc.strerror or exc}") from None


def _replacing(target: Path) -> Iterator[Path]:
    import secrets  # ~3 ms: kept off the start-up path of commands that write nothing

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


def _through(target: Path) -> Iterator[Path]:
    """Written whole to a temp file first, then copied into the device or pipe."""
    import shutil
    import tempfile

    with tempfile.TemporaryDirectory(prefix="edgeclf-") as folder:
        tmp_path = Path(folder) / f"out{target.suffix if target.suffix.isascii() else ''}"
        yield tmp_path
        with open(tmp_path, "rb") as source, open(target, "wb") as sink:
            shutil.copyfileobj(source, sink)


def is_stream(path: Path) -> bool:
    """A character device, FIFO or socket (what /dev/stdout leads to), not a file to replace."""
    import stat

    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return stat.S_ISCHR(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


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

    tmp = target.parent / f".edgeclf-tmp-{secrets.token_hex(6)}"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(bytes(data))
        for n in range(10_000):
            name = target if n == 0 else target.with_name(f"{target.stem}-{n}{target.suffix}")
            try:
                os.link(tmp, name)
                return name
            except FileExistsError:
                continue
    except OSError as exc:  # a full disk: this file is not saved, and nothing half-written stays
        raise WriteError(f"cannot save {target}: {exc.strerror or exc}") from None
    finally:
        with contextlib.suppress(OSError):  # its folder may be a file: nothing was made there
            tmp.unlink(missing_ok=True)
    raise EdgeclfError(f"no free file name beside {target}")


def check_writable_dir(folder: Path, option: str) -> None:
    """Fail now, in one line, if `folder` cannot be created or written to."""
    try:
        if folder.exists() and not folder.is_dir():
            raise EdgeclfError(f"{option} {folder}: exists and is not a folder")
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EdgeclfError(
            f"{option} {folder}: cannot create the folder ({exc.strerror or exc})"
        ) from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise EdgeclfError(f"{option} {folder}: the folder is not writable")
    import secrets

    probe = folder / f".edgeclf-probe-{secrets.token_hex(4)}"  # root may write where nothing can
    try:  # be created (/proc, a read-only mount): only trying tells
        os.close(os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        probe.unlink()
    except OSError as exc:
        raise EdgeclfError(
            f"{option} {folder}: cannot write there ({exc.strerror or exc})"
        ) from None


def check_writable_file(path: Path, option: str, inputs: Iterable[Path] = ()) -> None:
    """Fail now, in one line, if a file cannot be written at `path` (a folder, an unwritable or
    missing parent that cannot be created, a name too long), or if it is one of the command's
    `inputs` (writing would destroy what is being read)."""
    try:
        if path.is_dir():
            raise EdgeclfError(f"{option} {path}: is a folder, not a file")
        for source in inputs:
            if same_file(path, source):
                raise EdgeclfError(f"{option} {path} is an input of this command; write elsewhere")
        if is_stream(path):
            if not os.access(path, os.W_OK):
                raise EdgeclfError(f"{option} {path}: not writable")
            return
        if path.is_symlink():
            path = Path(os.path.realpath(path))
    except OSError as exc:
        raise EdgeclfError(f"{option} {path}: {exc.strerror or exc}") from None
    check_writable_dir(path.parent, option)


def same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file (links and relative paths included)."""
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return os.path.realpath(a) == os.path.realpath(b)
