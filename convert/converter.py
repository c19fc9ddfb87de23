"""`edgeclf convert`: Keras model -> verified TFLite model + model card, written atomically."""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..edge import __version__
from ..edge.atomic import atomic_path, write_text
from ..edge.card import CARD_FORMAT, card_path, sha256_of
from ..edge.classes import CLASS_NAMES, NUM_CLASSES
from ..edge.classifier import Classifier
from ..edge.dataset import balanced_subset, load_split
from ..edge.errors import EdgeclfError, ModelError, first_line
from ..edge.quiet import captured_fds

MODES = ("float", "fp16", "dynamic", "int8")
IO_TYPES = ("int8", "uint8", "float")
# Ops allowed to touch float tensors in an int8 model: only the I/O boundary (with --io float).
BOUNDARY_OPS = {"QUANTIZE", "DEQUANTIZE"}
PREPROCESSING = {
    "recipe": "fashion-mnist-paper",
    "description": (
        "28x28 grayscale, light garment on a black background, raw pixel values 0-255; the model "
        "rescales inside. Photos: trim background-coloured borders, resize the longest edge to 28, "
        "sharpen, pad to 28x28 centred, negate so the garment is light on black."
    ),
    "size": [28, 28],
    "pixel_range": [0, 255],
    "background": "black",
}


@dataclass
class ConvertOptions:
    mode: str = "int8"
    io: str = "int8"
    calib_samples: int = 500
    seed: int = 0
    data_dir: str | None = None
    max_drop: float = 0.5
    flip_average: bool = False


class QualityError(EdgeclfError):
    """The converted model lost too much accuracy; nothing was written."""

    exit_code = 3


def load_keras_model(path: Path):
    import keras

    if not path.is_file():
        raise ModelError(f"Keras model not found: {path}")
    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as exc:  # Keras raises many types for a bad archive
        raise ModelError(f"{path} is not a readable Keras model ({type(exc).__name__})") from None
    in_shape, out_shape = tuple(model.input_shape), tuple(model.output_shape)
    if in_shape[1:] not in ((28, 28, 1), (28, 28)) or out_shape[1:] != (NUM_CLASSES,):
        raise ModelError(
            f"{path} is not a 28x28 image classifier with {NUM_CLASSES} outputs "
            f"(input {in_shape}, output {out_shape})"
        )
    return model


def output_kind(model) -> str:
    """'probabilities' when the model ends in a softmax, else 'logits' (the runtime applies it)."""
    last = model.layers[-1]
    activation = getattr(last, "activation", None)
    is_softmax = (
        type(last).__name__ == "Softmax" or getattr(activation, "__name__", "") == "softmax"
    )
    return "probabilities" if is_softmax else "logits"


def with_flip_average(model):
    """The model averaged with itself on the left-right mirrored image, as one graph.

    A garment's class does not change in a mirror (training already flips images), so the mirrored
    view is a second opinion that costs twice the compute but no extra weights. Both views run as
    one batch of two through the same ops, so they share quantization parameters too, and the
    int8 result is exactly mirror-invariant.
    """
    import keras
    from keras import ops

    pixels = keras.Input(model.input_shape[1:], dtype="float32", name="pixels")
    both = ops.concatenate([pixels, ops.flip(pixels, axis=2)], axis=0)
    original, mirrored = ops.split(model(both), 2, axis=0)
    averaged = keras.layers.Average(name="flip_average")([original, mirrored])
    return keras.Model(pixels, averaged, name=f"{model.name}_flip_average")


def calibration_images(opts: ConvertOptions) -> np.ndarray:
    """A class-balanced sample of training images (never test images)."""
    train = load_split("train", opts.data_dir)
    keep = balanced_subset(train.labels, opts.calib_samples, opts.seed)
    return train.images[keep]


def to_tflite(model, mode: str, io: str, calib: np.ndarray | None) -> bytes:
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if mode == "fp16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif mode == "dynamic":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif mode == "int8":
        shape = (1, *model.input_shape[1:])

        def representative():
            for image in calib:
                yield [image.reshape(shape).astype(np.float32)]

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        io_type = {"int8": tf.int8, "uint8": tf.uint8, "float": tf.float32}[io]
        converter.inference_input_type = io_type
        converter.inference_output_type = io_type
    log = None
    try:
        with captured_fds(keep=True) as log:
            return converter.convert()
    except Exception as exc:  # the converter raises ConverterError, ValueError, RuntimeError...
        raise ModelError(
            f"TFLite conversion failed: {first_line(exc)} (converter log: {log})"
        ) from None


def check_all_int8(classifier: Classifier) -> None:
    """Refuse custom/Flex ops and any float tensor inside the graph of an int8 model."""
    for op in classifier.ops():
        name = op["op"]
        if name in ("CUSTOM", "DELEGATE") or name.startswith("Flex"):
            raise ModelError(f"int8 model contains a non-builtin op: {name}")
        if name not in BOUNDARY_OPS and any(d.startswith("float") for d in op["dtypes"]):
            raise ModelError(f"int8 model still has a float op: {name} ({', '.join(op['dtypes'])})")


def convert(model_path: Path, out: Path, opts: ConvertOptions) -> dict:
    """Convert, verify against the float model, and only then write OUT and its card."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    if opts.mode not in MODES:
        raise EdgeclfError(f"unknown mode {opts.mode!r}; choose from {', '.join(MODES)}")
    if opts.io not in IO_TYPES:
        raise EdgeclfError(f"--io must be one of {', '.join(IO_TYPES)}")
    model = load_keras_model(model_path)
    kind = output_kind(model)
    if opts.flip_average:
        model = with_flip_average(model)
    calib = calibration_images(opts) if opts.mode == "int8" else None
    io = opts.io if opts.mode == "int8" else "float"
    tflite_bytes = to_tflite(model, opts.mode, io, calib)

    # Verify on the test split (always there: the package bundles it when no data dir is given).
    test = load_split("test", opts.data_dir)
    images, labels = test.images, test.labels
    float_probs = model.predict(images[..., None].astype("float32"), batch_size=1000, verbose=0)
    with tempfile.TemporaryDirectory() as tmp:
        candidate = Path(tmp) / "candidate.tflite"
        candidate.write_bytes(tflite_bytes)
        classifier = Classifier(candidate)
        # The card that would say whether the model ends in logits is not written yet.
        classifier.outputs_logits = kind == "logits"
        if opts.mode == "int8":
            check_all_int8(classifier)
        lite_probs = classifier.predict(images, batch_size=250)
    float_pred, lite_pred = float_probs.argmax(1), lite_probs.argmax(1)
    report = {
        "split": "test",
        "images": int(len(labels)),
        "float_accuracy": float((float_pred == labels).mean()),
        "tflite_accuracy": float((lite_pred == labels).mean()),
        "agreement": float((float_pred == lite_pred).mean()),
        "model_bytes": len(tflite_bytes),
        "flip_average": opts.flip_average,
    }
    report["drop_points"] = round(100 * (report["float_accuracy"] - report["tflite_accuracy"]), 3)
    report["passed"] = report["drop_points"] <= opts.max_drop
    if not report["passed"]:
        raise QualityError(
            f"accuracy dropped {report['drop_points']:.2f} points "
            f"({report['float_accuracy']:.2%} -> {report['tflite_accuracy']:.2%}), "
            f"over --max-drop {opts.max_drop}; no model written"
        )

    card = {
        "format": CARD_FORMAT,
        "model_file": out.name,
        "sha256": sha256_of(tflite_bytes),
        "bytes": len(tflite_bytes),
        "classes": list(CLASS_NAMES),
        "input": classifier.input.to_dict(),
        "output": {**classifier.output.to_dict(), "kind": kind},
        "preprocessing": PREPROCESSING,
        "flip_average": opts.flip_average,
        "quantization": {
            "mode": opts.mode,
            "io": io,
            "per_channel_weights": opts.mode == "int8",
            "calibration": (
                {"samples": len(calib), "seed": opts.seed, "source": "train split, class-balanced"}
                if calib is not None
                else None
            ),
        },
        "accuracy": {
            k: report[k]
            for k in (
                "split",
                "images",
                "float_accuracy",
                "tflite_accuracy",
                "drop_points",
                "agreement",
            )
        },
        "source_model": model_path.name,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "versions": versions(keras),
    }
    with atomic_path(out) as tmp_model:
        tmp_model.write_bytes(tflite_bytes)
        write_text(card_path(out), json.dumps(card, indent=2) + "\n")
    return report


def versions(keras) -> dict[str, str]:
    import tensorflow as tf

    return {"tensorflow": tf.__version__, "keras": keras.__version__, "edgeclf": __version__}
