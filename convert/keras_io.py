"""Loading a `.keras` file with one-line errors, for the stages that use Keras (convert, train).

It lives on the edge side, which never runs it, so that neither stage imports the other; Keras
is imported only inside the call.
"""

from __future__ import annotations

from pathlib import Path

from ..edge.errors import ModelError, first_line
from ..edge.quiet import quiet_tensorflow


def check_keras_path(path: Path, what: str = "Keras model", error: type = ModelError) -> None:
    """The refusals that need no Keras: a missing file, or a TFLite model where a Keras one goes
    (said before TensorFlow loads)."""
    if not path.is_file():
        raise error(f"{what} not found: {path}")
    if path.suffix.lower() == ".tflite":
        raise error(
            f"{path} is already a TFLite model; convert takes the .keras model that train wrote"
        )


def load_keras_model(path: Path, what: str = "Keras model", error: type = ModelError):
    """The model in `path`, uncompiled (for inference and conversion); `error` is raised, with
    one line, when it is missing or unreadable."""
    check_keras_path(path, what, error)
    quiet_tensorflow()
    import keras

    try:
        return keras.models.load_model(path, compile=False)
    except Exception as exc:  # Keras raises many types for a bad archive
        raise error(f"{path} is not a readable {what} ({first_line(exc)})") from None
