"""The model card: the contract between the stages, and the only code that knows its keys.

`train` writes a training card beside `model.keras` (classes, input contract, the photo split);
`convert` writes the model card beside `MODEL.tflite` (the same, plus the tensors, quantization,
verified accuracy and the model's SHA-256); the runtime and `bench` read it. The runtime trusts a
model card only if its SHA-256 matches the model bytes it describes. Older cards are upgraded on
reading (a card without a recipe is a 28x28 Fashion-MNIST model), and a card that is not what it
claims fails in one line.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple

from ..errors import EdgeclfError, ModelError, first_line
from ..tflite.flatbuffer import EMBEDDED_CARD, read_metadata
from .classes import CLASS_NAMES
from .contract import FASHION_MNIST, LEGACY_RECIPES, PHOTO, RECIPES, InputContract

CARD_FORMAT = "edgeclf-model-card/1"
IDENTITY_KEYS = ("model_file", "sha256", "bytes")  # what a card inside its model cannot know
OUTPUT_KINDS = ("probabilities", "logits")
# How a photo model's validation split was drawn: by sender (or file), or within each class by
# sitting (datasets/sittings.py). The card records it so later stages draw the same split.
SENDER, SITTINGS = "sender", "sittings"
SPLIT_METHODS = (SENDER, SITTINGS)
# What the card reports but no stage reads back: kept as written, in this order.
REPORT_KEYS = (
    "input",
    "quantization",
    "accuracy",
    "also_verified",
    "source_model",
    "created",
    "versions",
)


def card_path(model_path: Path) -> Path:
    """`MODEL.tflite` -> `MODEL.json`."""
    return model_path.with_suffix(".json")


def check_model_output(out: Path, inputs: Iterable[Path] = ()) -> None:
    """Before any work: a model and its card can both be written at `-o out`, and neither
    replaces one of the command's `inputs` (photos, a base model, its card and its bank). A
    stream (`-o /dev/null`, a pipe) takes the model alone: no card is written beside it."""
    from ..atomic import check_writable_file, same_file

    inputs = list(inputs)
    sidecar = card_sidecar(out)
    if sidecar == out:
        raise EdgeclfError(f"-o {out}: a model named .json would be overwritten by its own card")
    check_writable_file(out, "-o", inputs=inputs)
    if sidecar is None:
        return
    if any(same_file(sidecar, source) for source in inputs):
        raise EdgeclfError(
            f"-o {out}: its card {sidecar.name} would replace {sidecar}, an input of this "
            "command; name the model differently"
        )
    check_writable_file(sidecar, "-o")


def card_sidecar(out: Path) -> Path | None:
    """Where the card is written beside a model at `out`: nowhere for a stream."""
    from ..atomic import is_stream

    return None if is_stream(out) else card_path(out)


def training_card_path(keras_path: Path) -> Path:
    """`model.keras` -> `model.card.json`: the classes and input contract `train` hands `convert`."""
    return keras_path.with_name(f"{keras_path.stem}.card.json")


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class PhotoSplit(NamedTuple):
    """The sender-disjoint split a photo model trained with, so later stages can reproduce it."""

    photos: str | None
    val_fraction: float
    seed: int
    label_mapping: str | None = None
    method: str = SENDER  # or SITTINGS

    def to_dict(self) -> dict:
        return {
            "photos": self.photos,
            "split": self.method,
            "val_fraction": self.val_fraction,
            "seed": self.seed,
            "label_mapping": self.label_mapping,
        }


class ModelCard(NamedTuple):
    """One model's card: what the runtime needs (the contract, the output kind), what later
    stages reproduce (the photo split), and the report `convert` verified. (A NamedTuple, not a
    dataclass: `classify` reads a card on every start, and a dataclass compiles its methods
    when its module loads.)"""

    contract: InputContract
    output_kind: str | None = None  # None: a training card (the Keras model decides)
    validation: PhotoSplit | None = None
    flip_average: bool = False
    class_counts: dict[str, int] | None = None
    calibration: dict | None = None
    # A converted model's identity and its tensors' quantization.
    model_file: str | None = None
    sha256: str | None = None
    size_bytes: int | None = None
    output: dict | None = None
    report: dict[str, Any] | None = None  # what convert measured; no stage reads it back

    @property
    def classes(self) -> tuple[str, ...]:
        return self.contract.classes

    @property
    def background(self) -> str | None:
        return self.contract.background

    @property
    def outputs_logits(self) -> bool:
        return self.output_kind == "logits"

    # reading -----------------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: object, where: str) -> ModelCard:
        """A card from its JSON, checked and upgraded; one-line `ModelError` naming `where`."""
        try:
            return cls._parse(data)
        except (ValueError, TypeError, KeyError) as exc:
            raise ModelError(f"model card {where}: {first_line(exc)}") from None

    @classmethod
    def _parse(cls, data: object) -> ModelCard:
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        classes = data.get("classes")
        if classes is None:
            classes = list(CLASS_NAMES)
        if (
            not isinstance(classes, list)
            or not classes
            or not all(isinstance(c, str) and c for c in classes)
        ):
            raise ValueError("no list of class names")
        if len(set(classes)) != len(classes):
            raise ValueError("a class name appears twice")
        output = _optional_dict(data, "output")
        kind = output.get("kind") if output else None
        if kind is not None and kind not in OUTPUT_KINDS:
            raise ValueError(f"output kind {kind!r} is not one of {', '.join(OUTPUT_KINDS)}")
        return cls(
            contract=_contract(data, tuple(classes)),
            output_kind=kind,
            validation=_split(data),
            flip_average=bool(data.get("flip_average", False)),
            class_counts=_optional_dict(data, "class_counts"),
            calibration=_optional_dict(data, "calibration"),
            model_file=data.get("model_file"),
            sha256=data.get("sha256"),
            size_bytes=data.get("bytes"),
            output=output,
            report={k: data[k] for k in REPORT_KEYS if k in data},
        )

    @classmethod
    def read(cls, path: Path) -> ModelCard | None:
        """The card in `path`; None when there is no such file, one line when it is broken."""
        data = _json_file(path)
        return None if data is None else cls.from_dict(data, str(path))

    @classmethod
    def for_model(cls, model_path: Path, model_bytes: bytes) -> ModelCard | None:
        """The card beside a `.tflite`, checked against its bytes; None when there is none."""
        path = card_path(model_path)
        data = _json_file(path)
        if data is None:
            return None
        if not isinstance(data, dict) or data.get("format") != CARD_FORMAT:
            raise ModelError(f"{path} is not an edgeclf model card (format {CARD_FORMAT})")
        if data.get("sha256") != sha256_of(model_bytes):
            raise ModelError(
                f"model card {path.name} does not match {model_path.name} (SHA-256 differs): "
                "the model was replaced or the card belongs to another model; re-run convert"
            )
        return cls.from_dict(data, str(path))

    @classmethod
    def inside(cls, model_path: Path, model_bytes: bytes) -> ModelCard | None:
        """The card a `.tflite` carries in its own metadata (`convert` and `teach` put it
        there), so a model copied alone keeps its classes and recipe."""
        data = read_metadata(model_bytes, EMBEDDED_CARD)
        if data is None:
            return None
        try:
            parsed = card_json(data)
        except ValueError as exc:
            raise ModelError(f"{model_path}: the card inside it is unreadable ({exc})") from None
        return cls.from_dict(parsed, f"inside {model_path.name}")

    def agrees_with(self, other: ModelCard) -> bool:
        """Whether two cards describe the same model to the runtime."""
        return self.contract == other.contract and self.output_kind == other.output_kind

    def embedded(self) -> bytes:
        """This card as the model's own metadata carries it (without what only the file knows:
        its name, size and hash)."""
        data = {k: v for k, v in self.to_dict().items() if k not in IDENTITY_KEYS}
        return json.dumps(data, separators=(",", ":")).encode()

    def carried_by(self, model_bytes: bytes) -> tuple[bytes, ModelCard]:
        """The model with this card inside it, and the card beside it (hash and size of those
        very bytes)."""
        from ..tflite.model_file import with_metadata  # only where a model is written
        from ..tflite.standard_metadata import with_standard_labels

        carrying = with_metadata(model_bytes, EMBEDDED_CARD, self.embedded())
        carrying = with_standard_labels(
            carrying, "edgeclf garment classifier", self.contract.describe(), self.classes
        )
        return carrying, self._replace(sha256=sha256_of(carrying), size_bytes=len(carrying))

    @classmethod
    def for_training(cls, path: Path) -> ModelCard | None:
        """The training card `train` wrote beside a `.keras` model, if any."""
        return cls.read(training_card_path(path))

    # writing -----------------------------------------------------------------------------------

    def converted(
        self, model_file: str, tflite_bytes: bytes, output: dict, kind: str, **report: Any
    ) -> ModelCard:
        """This (training) card for a converted model: its identity, output and report."""
        return self._replace(
            output_kind=kind,
            model_file=model_file,
            sha256=sha256_of(tflite_bytes),
            size_bytes=len(tflite_bytes),
            output={**output, "kind": kind},
            flip_average=bool(report.pop("flip_average", self.flip_average)),
            calibration=None,  # the training recipe's; the report says how convert calibrated
            report={k: report[k] for k in REPORT_KEYS if k in report},
        )

    def to_dict(self) -> dict:
        """The card's JSON: a model card when converted, else a training card."""
        out: dict[str, Any] = {}
        if self.sha256:
            out.update(
                format=CARD_FORMAT,
                model_file=self.model_file,
                sha256=self.sha256,
                bytes=self.size_bytes,
            )
        out["classes"] = list(self.classes)
        if self.background:
            out["background_class"] = self.background
        report = self.report or {}
        if self.sha256:
            out["input"] = report.get("input")
            out["output"] = self.output
        out["preprocessing"] = _preprocessing(self.contract)
        if self.sha256:
            out["flip_average"] = self.flip_average
        for key in REPORT_KEYS[1:4]:
            if key in report:
                out[key] = report[key]
        if self.validation is not None or self.sha256:
            out["validation"] = self.validation.to_dict() if self.validation else None
        if self.class_counts is not None:
            out["class_counts"] = self.class_counts
        if self.calibration is not None:
            out["calibration"] = self.calibration
        for key in REPORT_KEYS[4:]:
            if key in report:
                out[key] = report[key]
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"


def _preprocessing(contract: InputContract) -> dict:
    """The card's `preprocessing` entry: the recipe, and in words what it does."""
    if contract.recipe == PHOTO:
        description = (
            f"{contract.size}x{contract.size} RGB, raw pixel values 0-255; the model rescales inside. "
            "Photos: find the garment's box (looking inside a plain sheet it lies on, ignoring "
            "clutter beside it), pad it to a centred square with the border colour, resize."
        )
    else:
        description = (
            "28x28 grayscale, light garment on a black background, raw pixel values 0-255; the "
            "model rescales inside. Photos: trim background-coloured borders, resize the "
            "longest edge to 28, sharpen, pad to 28x28 centred, negate so the garment is "
            "light on black."
        )
    return {
        "recipe": contract.recipe,
        "description": description,
        "size": [contract.size, contract.size],
        "channels": contract.channels,
        "channel_order": "RGB" if contract.channels == 3 else "gray",
        "pixel_range": [0, 255],
    }


def _json_file(path: Path) -> object | None:
    """A card file's JSON; None when there is no such file, one line when it is no file or broken."""
    if not path.exists():
        return None
    if not path.is_file():
        raise ModelError(f"model card {path} is not a file")
    try:
        if path.stat().st_size > MAX_CARD_BYTES:
            raise ValueError(f"over {MAX_CARD_BYTES // 1024} KB")
        return card_json(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise ModelError(f"model card {path} is unreadable: {first_line(exc)}") from None


MAX_CARD_BYTES = 256 * 1024  # a card is a few KB
MAX_CARD_DEPTH = 16  # a card nests 4 deep


def card_json(data: bytes) -> object:
    """A card's JSON, bounded: at most MAX_CARD_BYTES and MAX_CARD_DEPTH deep, checked before it
    is parsed (deep nesting is a RecursionError inside the parser). ValueError when broken."""
    if len(data) > MAX_CARD_BYTES:
        raise ValueError(f"over {MAX_CARD_BYTES // 1024} KB")
    text = data.decode("utf-8")  # UnicodeDecodeError is a ValueError
    depth = deepest = 0
    quoted = escaped = False
    for ch in text:
        if escaped:
            escaped = False
        elif quoted:
            escaped, quoted = ch == "\\", ch != '"'
        elif ch == '"':
            quoted = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    if deepest > MAX_CARD_DEPTH:
        raise ValueError(f"nested {deepest} deep, more than {MAX_CARD_DEPTH}")
    return json.loads(text)


def _optional_dict(data: dict, key: str) -> dict | None:
    value = data.get(key)
    if value is not None and not isinstance(value, dict):
        raise ValueError(f"{key} is a {type(value).__name__}, not an object")
    return value


def _contract(data: dict, classes: tuple[str, ...]) -> InputContract:
    """The input contract under `preprocessing` (absent: the first cards' 28x28 Fashion-MNIST)."""
    pre = _optional_dict(data, "preprocessing") or {}
    recipe = pre.get("recipe", FASHION_MNIST)
    recipe = LEGACY_RECIPES.get(recipe, recipe)
    if recipe not in RECIPES:
        raise ValueError(f"unknown preprocessing recipe {recipe!r}")
    size = pre.get("size", 28)
    if isinstance(size, list) and size:
        size = size[0]
    if isinstance(size, bool) or not isinstance(size, int) or not 8 <= size <= 1024:
        raise ValueError(f"input size {pre.get('size')!r} is not a whole number of pixels")
    channels = pre.get("channels", 3 if recipe == PHOTO else 1)
    if channels not in (1, 3) or isinstance(channels, bool):
        raise ValueError(f"channels {channels!r} is neither 1 (gray) nor 3 (colour)")
    background = data.get("background_class")
    if background is not None and background not in classes:
        raise ValueError(f"background class {background!r} is not one of the card's classes")
    return InputContract(recipe, size, channels, classes, background)


def _split(data: dict) -> PhotoSplit | None:
    split = _optional_dict(data, "validation")
    if not split:
        return None
    fraction, seed = split.get("val_fraction"), split.get("seed")
    if not isinstance(fraction, (int, float)) or not 0 < fraction < 1 or math.isnan(fraction):
        raise ValueError(f"validation fraction {fraction!r} is not between 0 and 1")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"validation seed {seed!r} is not a whole number")
    photos, method = split.get("photos"), split.get("split", SENDER)
    if method not in SPLIT_METHODS:
        raise ValueError(f"validation split {method!r} is not one of {', '.join(SPLIT_METHODS)}")
    return PhotoSplit(
        str(photos) if photos is not None else None,
        float(fraction),
        seed,
        split.get("label_mapping"),
        method,
    )
