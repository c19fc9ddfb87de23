"""Teaching a photo model classes of your own: a new head on the bundled photo model's features.

The base model's layers up to its global average pooling are the feature extractor. They stay
frozen while the new head learns (quick, and safe with a few dozen photos per class); an optional
short phase then unfreezes them at a tenth of the learning rate.
"""

from __future__ import annotations

from pathlib import Path

from ..convert.keras_io import load_keras_model
from ..edge.errors import EdgeclfError
from ..edge.runtime.classifier import MODELS_DIR

DEFAULT_BASE = MODELS_DIR / "photo.keras"
FEATURES_LAYER = "gap"


def load_base(path: Path | None):
    """The photo model whose features the new classes build on."""
    base = load_keras_model(path or DEFAULT_BASE, "base model")
    shape = tuple(base.input_shape)
    if len(shape) != 4 or shape[3] != 3:
        raise EdgeclfError(f"--base {path}: not a colour photo model (input {shape})")
    try:
        base.get_layer(FEATURES_LAYER)
    except ValueError:
        raise EdgeclfError(f"--base {path}: no '{FEATURES_LAYER}' feature layer") from None
    return base


def with_new_head(base, classes: int, dropout: float = 0.2):
    """The base's feature extractor, frozen, and a new logits layer for `classes` classes."""
    import keras
    from keras import layers

    features = base.get_layer(FEATURES_LAYER).output
    backbone = keras.Model(base.input, features, name="features")
    backbone.trainable = False
    x = layers.Dropout(dropout, name="head_dropout")(backbone.output)
    logits = layers.Dense(classes, name="logits")(x)
    return keras.Model(backbone.input, logits, name="own_classes"), backbone
