"""The model zoo. Every model takes raw 0-255 pixels as float32 and rescales inside: (28, 28, 1)
for the Fashion-MNIST models, (size, size, 3) RGB for the photo models.

A float32 Input with Rescaling inside makes the int8 model's input exactly `pixel - 128`, so the
edge side never guesses the normalisation. Models end in logits; training adds the softmax.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
from keras import layers

from ..edge.runtime.classes import NUM_CLASSES

INPUT_SHAPE = (28, 28, 1)


def conv_bn_relu(x, filters: int, name: str):
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(momentum=0.9, name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def vgg(
    stages: tuple[tuple[int, ...], ...],
    dropout: float,
    name: str,
    head: str = "gap",
    input_shape: tuple[int, ...] = INPUT_SHAPE,
    stem: int = 0,
    classes: int = NUM_CLASSES,
) -> keras.Model:
    """Conv-BN-ReLU stages separated by 2x2 max-pooling, then a head.

    Pooling early keeps the multiply-adds (hence int8 latency on a CPU core) low; BN folds into the
    convolutions at conversion, so it costs nothing on the device. The `spatial` head (pool to 3x3,
    flatten) keeps where things are in the image; `gap` averages it away, which costs small models
    accuracy on centred garments (shirt vs. T-shirt vs. coat). A `stem` of N filters is a strided
    convolution first: photo models halve their input before spending width on it.
    """
    inputs = keras.Input(input_shape, dtype="float32", name="pixels")
    x = layers.Rescaling(1.0 / 255.0, name="rescale")(inputs)
    if stem:
        x = layers.Conv2D(stem, 3, strides=2, padding="same", use_bias=False, name="stem_conv")(x)
        x = layers.BatchNormalization(momentum=0.9, name="stem_bn")(x)
        x = layers.ReLU(name="stem_relu")(x)
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
    outputs = layers.Dense(classes, name="logits")(x)
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


def photo_net(stages: tuple[tuple[int, ...], ...], dropout: float, stem: int, name: str):
    """A colour photo model builder: (size, classes) -> model, with a strided stem and GAP head."""

    def build_photo(size: int, classes: int) -> keras.Model:
        shape = (size, size, 3)
        return vgg(stages, dropout, name, input_shape=shape, stem=stem, classes=classes)

    return build_photo


# Colour photo models: (size, size, 3) input, global-average head (garments sit anywhere).
PHOTO_ARCHITECTURES: dict[str, tuple[str, Callable[[int, int], keras.Model]]] = {
    "photo": (
        "~296K params, stride-2 stem, 3 stages: the narrower first photo model (int8 ~310 KB)",
        photo_net(((32, 32), (64, 64), (128, 128)), 0.2, 24, "photo"),
    ),
    "photo-medium": (
        "~466K params: photo with wider stages, the photo default (int8 ~480 KB, 1.5x the MACs)",
        photo_net(((32, 48), (80, 80), (160, 160)), 0.3, 32, "photo_medium"),
    ),
    "photo-wide": (
        "~650K params: photo with wider stages (for comparison)",
        photo_net(((32, 48), (96, 96), (192, 192)), 0.3, 32, "photo_wide"),
    ),
}


def build(arch: str, size: int | None = None, classes: int = NUM_CLASSES) -> keras.Model:
    """A fresh model; photo architectures take the input size and the number of classes."""
    if arch in PHOTO_ARCHITECTURES:
        return PHOTO_ARCHITECTURES[arch][1](size or 64, classes)
    if arch not in ARCHITECTURES:
        known = ", ".join([*ARCHITECTURES, *PHOTO_ARCHITECTURES])
        raise ValueError(f"unknown --arch {arch!r}; choose from {known}")
    return ARCHITECTURES[arch][1]()
