"""The model zoo. Every model takes raw 0-255 pixels as float32 (28, 28, 1) and rescales inside.

A float32 Input with Rescaling inside makes the int8 model's input exactly `pixel - 128`, so the
edge side never guesses the normalisation. Models end in logits; training adds the softmax.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
from keras import layers

from ..edge.classes import NUM_CLASSES

INPUT_SHAPE = (28, 28, 1)


def conv_bn_relu(x, filters: int, name: str):
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(momentum=0.9, name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def vgg(
    stages: tuple[tuple[int, ...], ...], dropout: float, name: str, head: str = "gap"
) -> keras.Model:
    """Conv-BN-ReLU stages separated by 2x2 max-pooling, then a head.

    Pooling early keeps the multiply-adds (hence int8 latency on a CPU core) low; BN folds into the
    convolutions at conversion, so it costs nothing on the device. The `spatial` head (pool to 3x3,
    flatten) keeps where things are in the image; `gap` averages it away, which costs small models
    accuracy on centred garments (shirt vs. T-shirt vs. coat).
    """
    inputs = keras.Input(INPUT_SHAPE, dtype="float32", name="pixels")
    x = layers.Rescaling(1.0 / 255.0, name="rescale")(inputs)
    for s, widths in enumerate(stages):
        if s:
            x = layers.MaxPooling2D(name=f"pool{s}")(x)
        for b, filters in enumerate(widths):
            x = conv_bn_relu(x, filters, f"s{s}b{b}")
    if head == "spatial":
        x = layers.MaxPooling2D(name="head_pool")(x)
        x = layers.Flatten(name="flatten")(x)
    else:
        x = layers.GlobalAveragePooling2D(name="gap")(x)
    if dropout:
        x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(NUM_CLASSES, name="logits")(x)
    return keras.Model(inputs, outputs, name=name)


ARCHITECTURES: dict[str, tuple[str, Callable[[], keras.Model]]] = {
    "tiny": (
        "~28K params, ~3.5M MACs: the smallest useful model",
        lambda: vgg(((16,), (32, 32), (48,)), 0.0, "tiny"),
    ),
    "small": (
        "~82K params, ~8.3M MACs, spatial head: the default, int8 under 100 KB, ~57 us",
        lambda: vgg(((24,), (48, 48), (96,)), 0.1, "small", head="spatial"),
    ),
    "small-gap": (
        "~75K params: small with global average pooling (kept for comparison)",
        lambda: vgg(((24,), (48, 48), (96,)), 0.1, "small_gap"),
    ),
    "accurate": (
        "~1.17M params, spatial head: the accurate variant (--bf16 on an AMX CPU; "
        "convert with --flip-average for 95 % int8)",
        lambda: vgg(((64, 64), (128, 128), (256, 256)), 0.3, "accurate", head="spatial"),
    ),
}
DEFAULT_ARCH = "small"


def build(arch: str) -> keras.Model:
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown --arch {arch!r}; choose from {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[arch][1]()
