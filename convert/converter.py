"""`edgeclf convert`: Keras model -> verified TFLite model + model card, written atomically."""

from __future__ import annotations

import datetime as dt
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..edge import __version__
from ..edge.atomic import write_bytes, write_text
from ..edge.datasets.photoset import set_correct
from ..edge.errors import EdgeclfError, ModelError, first_line
from ..edge.quiet import captured_fds, quiet_tensorflow
from ..edge.runtime.card import ModelCard, card_sidecar, check_model_output, training_card_path
from ..edge.runtime.classes import NUM_CLASSES
from ..edge.runtime.classifier import Classifier
from ..edge.runtime.contract import FASHION_MNIST, PHOTO, InputContract
from . import data
from .keras_io import check_keras_path, load_keras_model

MODES = ("float", "fp16", "dynamic", "int8")
IO_TYPES = ("int8", "uint8", "float")
# Ops allowed to touch float tensors in an int8 model: only the I/O boundary (with --io float).
BOUNDARY_OPS = {"QUANTIZE", "DEQUANTIZE"}
# Calibration images by recipe. Two photo models lost 0.53 and 0.00 points of real photos with 500
# (half real photos, half rendered crops), 0.17 and 0.70 with 1,000, 0.17 and 0.17 with 2,000.
CALIB_SAMPLES = {PHOTO: 2000, FASHION_MNIST: 500}


@dataclass
class ConvertOptions:
    mode: str = "int8"
    io: str = "int8"
    calib_samples: int | None = None  # None: CALIB_SAMPLES for the model's recipe
    seed: int = 0
    data_dir: str | None = None
    max_drop: float = 0.5
    flip_average: bool = False
    photos: str | None = None  # a photo model's labelled photos, if not where training found them

    @classmethod
    def for_command(cls, int8: bool, fp16: bool, dynamic: bool, **settings) -> ConvertOptions:
        modes = [name for name, on in (("int8", int8), ("fp16", fp16), ("dynamic", dynamic)) if on]
        if len(modes) > 1:
            raise EdgeclfError("choose one of --int8, --fp16, --dynamic")
        return cls(mode=modes[0] if modes else "float", **settings)


class QualityError(EdgeclfError):
    """The converted model lost too much accuracy; nothing was written."""

    exit_code = 3


def load_image_classifier(path: Path, classes: int = NUM_CLASSES):
    """The Keras model, checked to be a gray 28x28 or square colour classifier."""
    model = load_keras_model(path)
    in_shape, out_shape = tuple(model.input_shape), tuple(model.output_shape)
    gray = in_shape[1:] in ((28, 28, 1), (28, 28))
    colour = len(in_shape) == 4 and in_shape[3] == 3 and in_shape[1] == in_shape[2]
    if not (gray or colour) or out_shape[1:] != (classes,):
        raise ModelError(
            f"{path} is not a 28x28 gray or square colour image classifier with {classes} "
            f"outputs (input {in_shape}, output {out_shape})"
        )
    return model


def model_card(model, training: ModelCard | None) -> ModelCard:
    """The training card, or a card whose contract is read from the model's input shape."""
    if training:
        return training
    shape = tuple(model.input_shape)
    if len(shape) == 4 and shape[3] == 3:
        return ModelCard(InputContract(recipe=PHOTO, size=int(shape[1]), channels=3))
    return ModelCard(InputContract())


def output_kind(model) -> str:
    """'probabilities' when the model ends in a softmax, else 'logits' (the runtime applies it)."""
    import keras

    last = model.layers[-1]
    activation = getattr(last, "activation", None)
    is_softmax = isinstance(last, keras.layers.Softmax) or activation is keras.activations.softmax
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
            converted = converter.convert()
    except Exception as exc:  # the converter raises ConverterError, ValueError, RuntimeError...
        raise ModelError(
            f"TFLite conversion failed: {first_line(exc)} (converter log: {log})"
        ) from None
    Path(log).unlink(missing_ok=True)  # the log is kept only when it explains a failure
    return converted


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
    quiet_tensorflow()
    import keras

    if opts.mode not in MODES:
        raise EdgeclfError(f"unknown mode {opts.mode!r}; choose from {', '.join(MODES)}")
    if opts.io not in IO_TYPES:
        raise EdgeclfError(f"--io must be one of {', '.join(IO_TYPES)}")
    training = ModelCard.for_training(model_path)
    model = load_image_classifier(model_path, len(training.classes) if training else NUM_CLASSES)
    card = model_card(model, training)
    contract, split = card.contract, card.validation
    kind = output_kind(model)
    if opts.flip_average:
        model = with_flip_average(model)
    photos = data.photo_folder(split, opts.photos)
    calib = None
    if opts.mode == "int8":
        samples = opts.calib_samples or CALIB_SAMPLES[contract.recipe]
        calib = data.calibration_views(contract, samples, opts.seed, opts.data_dir, photos, split)
    io = opts.io if opts.mode == "int8" else "float"
    tflite_bytes = to_tflite(model, opts.mode, io, calib)

    checks = data.verification_sets(contract, opts.data_dir, photos, split)
    with tempfile.TemporaryDirectory() as tmp:
        candidate = Path(tmp) / "candidate.tflite"
        candidate.write_bytes(tflite_bytes)
        classifier = Classifier(candidate, card=card._replace(output_kind=kind))
        if opts.mode == "int8":
            check_all_int8(classifier)
        results = [verify(model, classifier, check) for check in checks]
    report = {**results[0], "model_bytes": len(tflite_bytes), "flip_average": opts.flip_average}
    report["also"] = results[1:]
    report["passed"] = report["drop_points"] <= opts.max_drop
    if not report["passed"]:
        raise QualityError(
            f"accuracy dropped {report['drop_points']:.2f} points "
            f"({report['float_accuracy']:.2%} -> {report['tflite_accuracy']:.2%}), "
            f"over --max-drop {opts.max_drop}; no model written"
        )

    card = card.converted(
        out.name,
        tflite_bytes,
        classifier.output.to_dict(),
        kind,
        input=classifier.input.to_dict(),
        flip_average=opts.flip_average,
        quantization={
            "mode": opts.mode,
            "io": io,
            "per_channel_weights": opts.mode == "int8",
            "calibration": (
                {"samples": len(calib), "seed": opts.seed, "source": calibration_source(contract)}
                if calib is not None
                else None
            ),
        },
        accuracy={
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
        also_verified=report["also"],
        source_model=model_path.name,
        created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        versions=versions(keras),
    )
    # The model first: a kill between the two leaves a card whose hash no longer matches, which
    # the runtime refuses, never a new card vouching for an old model.
    tflite_bytes, card = card.carried_by(tflite_bytes)  # a copy alone keeps its classes
    report["model_bytes"] = len(tflite_bytes)
    write_bytes(out, tflite_bytes)
    if card_sidecar(out):
        write_text(card_sidecar(out), card.to_json())
    return report


def checked_output(model_path: Path, out: Path | None, opts: ConvertOptions) -> Path:
    """Where the model goes (`MODEL_<mode>.tflite` by default), checked before TensorFlow loads:
    a refusal costs a second, and neither the model nor its card replaces an input."""
    check_keras_path(model_path)
    out = out or model_path.with_name(f"{model_path.stem}_{opts.mode}.tflite")
    check_model_output(out, inputs=[model_path, training_card_path(model_path)])
    return out


def run(model_path: Path, out: Path | None, opts: ConvertOptions) -> dict:
    """The whole command: check where the model goes, convert, verify, write, print the table."""
    from .report import print_report

    out = checked_output(model_path, out, opts)
    report = convert(model_path, out, opts)
    print_report(report, out)
    return report


def calibration_source(contract: InputContract) -> str:
    if contract.recipe == PHOTO:
        return "training photos (sender split) and Fashion-MNIST train rendered as photos"
    return "train split, class-balanced"


def verify(model, classifier: Classifier, check: data.VerificationSet) -> dict:
    """Float and TFLite accuracy on one verification set (right = any class of the set)."""
    float_probs = model.predict(check.views.astype("float32"), batch_size=250, verbose=0)
    lite_probs = classifier.predict(check.views, batch_size=250)
    float_right = set_correct(float_probs, check.allowed)
    lite_right = set_correct(lite_probs, check.allowed)
    result = {
        "split": check.name,
        "images": int(len(check.views)),
        "float_accuracy": float(float_right.mean()),
        "tflite_accuracy": float(lite_right.mean()),
        "agreement": float((float_probs.argmax(1) == lite_probs.argmax(1)).mean()),
        "classes": int(check.allowed.shape[1]),
        "classes_checked": int(check.allowed.any(axis=0).sum()),
    }
    result["drop_points"] = round(100 * (result["float_accuracy"] - result["tflite_accuracy"]), 3)
    return result


def versions(keras) -> dict[str, str]:
    import tensorflow as tf

    return {"tensorflow": tf.__version__, "keras": keras.__version__, "edgeclf": __version__}
