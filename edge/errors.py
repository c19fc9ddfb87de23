"""User-facing errors: the CLI prints them as one line and exits with `exit_code`, no traceback."""


class EdgeclfError(Exception):
    """A problem the user can fix (bad path, bad file, missing extra)."""

    exit_code = 1


class DataError(EdgeclfError):
    """The data set is missing, truncated or corrupt."""

    exit_code = 2


class ModelError(EdgeclfError):
    """A model file or its card cannot be used."""

    exit_code = 2


class WriteError(EdgeclfError):
    """An output could not be written (a full disk, a folder that vanished); nothing half-written
    was left."""


class InputImageError(EdgeclfError):
    """One input image cannot be read; a batch reports it and goes on."""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (library errors can run to pages)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def install_hint(extra: str) -> str:
    """How to add an extra, said for both ways edgeclf is installed: a clone (editable) and a
    wheel (`make wheel`; edgeclf is not on PyPI)."""
    return (
        f"pip install -e '.[{extra}]' in a clone, or pip install "
        f"'edgeclf-VERSION-py3-none-any.whl[{extra}]' from the wheel you installed"
    )
