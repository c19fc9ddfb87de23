"""What every command shares around its work: one-line errors and exit codes, the version flag,
and a clear message when an optional extra is missing."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
from collections.abc import Callable, Iterator
from enum import Enum
from pathlib import Path

import typer

from ..errors import EdgeclfError, install_hint


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print one red line on stderr and return the Exit to raise."""
    typer.secho(f"error: {message}", err=True, fg="red")
    return typer.Exit(code)


def user_errors(func: Callable) -> Callable:
    """Turn the project's errors and Ctrl-C into one line and an exit code, never a traceback.
    Choices (Enums, so that --help lists them) reach the command as their strings; a number
    option given nan or inf (which click's ranges let through) is a usage error."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        kwargs = {k: v.value if isinstance(v, Enum) else v for k, v in kwargs.items()}
        for name, value in kwargs.items():
            if isinstance(value, float) and not math.isfinite(value):
                raise fail(f"--{name.replace('_', '-')} {value}: give a finite number", 2)
        try:
            return func(*args, **kwargs)
        except EdgeclfError as exc:
            raise fail(str(exc), exc.exit_code) from None
        except KeyboardInterrupt:
            raise fail("interrupted", 130) from None
        except OSError as exc:  # a full disk, /proc, a name too long: where, and why
            where = f"{exc.filename}: " if exc.filename else ""
            raise fail(f"{where}{exc.strerror or exc}", 1) from None

    return wrapper


def version_callback(value: bool) -> None:
    """`edgeclf --version`: what a bug report needs, in one line."""
    if value:
        print(version_line())
        raise typer.Exit()


def version_line() -> str:
    """edgeclf's version, with the TFLite runtime, OpenCV, NumPy and Python it runs on."""
    import platform

    from .. import __version__
    from ..runtime.backends import load_backend

    try:
        backend = load_backend()
        runtime = f"{backend.name} {backend.version}"
    except EdgeclfError:
        runtime = "no TFLite runtime"
    try:
        import cv2

        opencv = f"OpenCV {cv2.__version__}"
    except ImportError:
        opencv = "no OpenCV"
    import numpy

    return (
        f"edgeclf {__version__} ({runtime}, {opencv}, NumPy {numpy.__version__}, "
        f"Python {platform.python_version()} on {platform.machine()})"
    )


def require(module: str, extra: str) -> None:
    """Fail with the extra to install when a heavy optional dependency is missing."""
    import importlib

    from ..quiet import captured_fds, quiet_tensorflow

    quiet_tensorflow()
    try:
        with captured_fds():  # TensorFlow logs its CPU features and oneDNN notes on import
            importlib.import_module(module)
    except ImportError:
        raise EdgeclfError(
            f"{module} is not installed; install the '{extra}' extra: {install_hint(extra)}"
        ) from None


def settings_for(config: type, options: dict) -> dict:
    """The command's options that `config` (a dataclass) has fields for, paths as plain strings
    (configs are saved as JSON)."""
    names = {f.name for f in dataclasses.fields(config)}
    return {k: str(v) if isinstance(v, Path) else v for k, v in options.items() if k in names}


def given_options(ctx: typer.Context, options: dict) -> set[str]:
    """The options the user typed (or set through the environment), not typer's defaults: the
    stages refuse what does not apply, and nothing is silently ignored."""
    sources = {name: ctx.get_parameter_source(name) for name in options}
    # By name: typer may carry its own copy of click, and with it its own ParameterSource.
    return {
        n for n, s in sources.items() if s is not None and s.name in ("COMMANDLINE", "ENVIRONMENT")
    }


def only_the_command_run(app: typer.Typer, argv: list[str]) -> None:
    """Keep only the command this process runs in `app`, so typer builds that command's options
    alone: building all of them took about 5 ms of every start. Without a known command name
    first (`--help`, `--version`, a typo) the whole table stays, for the listing and suggestions."""
    name = argv[1] if len(argv) > 1 else None
    chosen = [
        command
        for command in app.registered_commands
        if (command.name or typer.main.get_command_name(command.callback.__name__)) == name
    ]
    if chosen:
        app.registered_commands = chosen


@contextlib.contextmanager
def progress_bar(what: str) -> Iterator[Callable[..., None]]:
    """A transient bar on stderr for long work; yields `advance(done, total[, stage])`."""
    from rich.console import Console
    from rich.progress import Progress

    with Progress(transient=True, console=Console(stderr=True)) as progress:
        task = progress.add_task(what, total=None)

        def advance(done: int, total: int, stage: str | None = None) -> None:
            progress.update(task, completed=done, total=total, description=stage or what)

        yield advance
