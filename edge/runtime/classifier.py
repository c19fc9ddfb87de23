"""`Classifier`: one TFLite model, its card, and correct (de)quantization for any I/O dtype."""

from __future__ import annotations

import ctypes
import os
import sys
import threading
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .. import MAX_THREADS, package_dir
from ..errors import ModelError, first_line
from ..quiet import captured_fds
from ..tflite.flatbuffer import declared_tensor_bytes
from .backends import Backend, load_backend
from .card import ModelCard
from .contract import PHOTO, InputContract
from .prediction import Prediction
from .probe import probe_failure

MODELS_DIR = package_dir("edgeclf.models")  # the bundled models, however edgeclf is installed
PHOTO_MODEL = MODELS_DIR / "photo_int8.tflite"  # colour photos and camera frames
FASHION_MODEL = MODELS_DIR / "fashion_int8.tflite"  # 28x28 gray Fashion-MNIST crops
DEFAULT_MODEL = PHOTO_MODEL  # of every command, and of `Classifier()`
ACCURATE_MODEL = MODELS_DIR / "photo_lite0_int8.tflite"  # ImageNet-pretrained EfficientNet-Lite0
TIERS = {"fast": PHOTO_MODEL, "accurate": ACCURATE_MODEL}


def resolve_model(model: str | os.PathLike | None) -> Path:
    """A model path, the default, or a tier's bundled model (`--model accurate`, `--model fast`;
    a file of that name, where there is one, wins)."""
    if not model:
        return DEFAULT_MODEL
    path = Path(model)
    if str(model) in TIERS and not path.exists():
        return TIERS[str(model)]
    return path


class TensorSpec(NamedTuple):
    """One input or output tensor: where it is, its shape and dtype, and its quantization."""

    index: int
    shape: tuple[int, ...]
    dtype: np.dtype
    scale: float
    zero_point: int

    @classmethod
    def from_details(cls, d: dict) -> TensorSpec:
        scale, zero_point = d.get("quantization", (0.0, 0))
        return cls(
            d["index"], tuple(int(s) for s in d["shape"]), np.dtype(d["dtype"]), scale, zero_point
        )

    @property
    def quantized(self) -> bool:
        return self.dtype.kind in "iu" and self.scale > 0

    def to_dict(self) -> dict:
        return {
            "shape": list(self.shape),
            "dtype": self.dtype.name,
            "scale": self.scale,
            "zero_point": self.zero_point,
        }


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=-1, keepdims=True)


def interpreter_message(exc: BaseException) -> str:
    """LiteRT's error, readable: it runs a kernel's message into its own ("out of boundsNode
    number 4 (GATHER) failed to invoke.")."""
    import re

    return re.sub(r"(?<=[a-z])(?=Node number \d+)", ". ", first_line(exc))


MAX_MODEL_BYTES = 512 * 2**20
MAX_TENSOR_BYTES = 256 * 2**20  # one tensor; a 64x64 int8 model's largest is 230 KB


def check_declared_tensors(path: Path, model_bytes: bytes) -> None:
    """Refuse a file whose flatbuffer is unsound, or whose tensors would take more memory than
    any model for this device, before an interpreter allocates them."""
    try:
        sizes = declared_tensor_bytes(model_bytes)
    except ValueError as exc:
        raise ModelError(f"{path} is not a usable TFLite model: {exc}") from None
    if sizes and (max(sizes) > MAX_TENSOR_BYTES or sum(sizes) > 2 * MAX_TENSOR_BYTES):
        raise ModelError(
            f"{path} declares tensors of {sum(sizes) / 2**20:,.0f} MB: a damaged model, or not "
            "one for this device"
        )


class Classifier:
    """Loads a `.tflite` (and its card) and maps the model's views to class probabilities.

    The card's input contract says what a view is (28x28 gray light-on-black, or a colour square)
    and how a photo becomes one (`view`). The model gets raw pixel values, quantized with its
    input's scale and zero point (int8 models: exactly `pixel - 128`).
    """

    def __init__(
        self,
        model_path: str | os.PathLike | None = None,
        backend: str | None = None,
        threads: int | None = None,
        delegate: str | None = None,
        card: ModelCard | None = None,
    ) -> None:
        """`card` is the card a model will carry, for one whose card is not written yet:
        `convert` and `teach` check a model before they write it and its card."""
        self.path = resolve_model(model_path)
        if self.path.exists() and not self.path.is_file():  # a folder or a FIFO would hang or fail
            raise ModelError(f"{self.path} is not a model file")
        if self.path.suffix.lower() in (".keras", ".h5"):
            raise ModelError(
                f"{self.path} is a Keras model; convert it first: "
                f"edgeclf convert {self.path} --int8 -o {self.path.with_suffix('.tflite').name}"
            )
        try:
            size = self.path.stat().st_size
            if size > MAX_MODEL_BYTES:  # read whole, a 3 GB file took 12 s and 3 GB to refuse
                raise ModelError(
                    f"{self.path} is {size / 2**30:.1f} GB: not a model for this device "
                    f"(at most {MAX_MODEL_BYTES // 2**20} MB)"
                )
            model_bytes = self.path.read_bytes()
        except FileNotFoundError:
            raise ModelError(f"model not found: {self.path}") from None
        except OSError as exc:
            raise ModelError(f"cannot read model {self.path}: {exc.strerror}") from None
        check_declared_tensors(self.path, model_bytes)
        self.model_bytes = len(model_bytes)
        self.content = model_bytes  # the model's bytes, as read once
        self.card = card or self._card(model_bytes)
        self.backend: Backend = load_backend(backend)
        if not self.card:  # nobody vouches for it: a damaged one must not take this process down
            failure = probe_failure(self.path, self.backend.name)
            if failure:
                raise ModelError(f"{self.path} is not a usable TFLite model: {failure}")
        if threads is not None and not 1 <= threads <= MAX_THREADS:  # LiteRT crashes on 100000
            raise ModelError(f"threads: {threads} is not between 1 and {MAX_THREADS}")
        self.threads = threads
        delegates = [self._load_delegate(delegate)] if delegate else None
        try:
            with captured_fds((2,)):  # LiteRT logs "Created XNNPACK delegate" on every load
                self.interpreter = self.backend.interpreter_class(
                    model_content=model_bytes, num_threads=threads, experimental_delegates=delegates
                )
                self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelError(
                f"{self.path} is not a usable TFLite model: {first_line(exc)}"
            ) from None
        inputs, outputs = (
            self.interpreter.get_input_details(),
            self.interpreter.get_output_details(),
        )
        if len(inputs) != 1 or len(outputs) != 1:
            raise ModelError(f"{self.path}: expected one input and one output")
        self.input = TensorSpec.from_details(inputs[0])
        self.output = TensorSpec.from_details(outputs[0])
        self.contract = self._contract()
        if not self.card:  # said once the model loads: a broken file says only that it is broken
            print(
                f"note: {self.path.name} has no model card: its class names and recipe are "
                "guessed from its shape",
                file=sys.stderr,
            )
        self.labels: tuple[str, ...] = self.contract.classes
        if self.output.shape[-1] != len(self.labels):
            raise ModelError(
                f"{self.path}: {self.output.shape[-1]} outputs but {len(self.labels)} class names"
            )
        self._batch = self.input.shape[0]
        self._lut = self._pixel_table()
        self._lock = threading.Lock()
        self.outputs_logits = False  # the raw output, for the check below
        if self.card and self.card.output_kind:
            self.outputs_logits = self.card.outputs_logits
        else:  # no card: probabilities sum to one, logits do not
            self.outputs_logits = not self._looks_like_probabilities()

    def _load_delegate(self, path: str):
        # Check the library loads first: a failed load_delegate leaves a half-built Delegate whose
        # destructor prints a traceback (LiteRT 2.3).
        try:
            library = ctypes.CDLL(path)
        except OSError as exc:
            raise ModelError(f"cannot load delegate {path}: {first_line(exc)}") from None
        if not hasattr(library, "tflite_plugin_create_delegate"):
            raise ModelError(
                f"{path} is not a TFLite external delegate (no tflite_plugin_create_delegate)"
            )
        try:
            return self.backend.load_delegate(path)
        except (ValueError, OSError, RuntimeError, AttributeError) as exc:
            raise ModelError(f"cannot load delegate {path}: {first_line(exc)}") from None

    def _card(self, model_bytes: bytes) -> ModelCard | None:
        """The card beside the model, else the one inside it; the two must agree."""
        beside = ModelCard.for_model(self.path, model_bytes)
        inside = ModelCard.inside(self.path, model_bytes)
        if beside and inside and not beside.agrees_with(inside):
            raise ModelError(
                f"{self.path}: its card {self.path.with_suffix('.json').name} and the card inside "
                f"it disagree (classes {', '.join(beside.classes)} against "
                f"{', '.join(inside.classes)}); re-run convert or teach"
            )
        return beside or inside

    def _looks_like_probabilities(self) -> bool:
        """For a card-less model: one invoke on a blank view tells softmax output from logits."""
        out = self.dequantize(
            self.invoke_raw(self.quantize(np.zeros((1, *self.contract.shape), np.uint8)))
        )
        return bool(out.min() >= -1e-3 and abs(float(out.sum()) - 1) < 0.05)

    def _contract(self) -> InputContract:
        """The card's contract, checked against the model's input; a card-less model's is read
        from its input shape (28x28x1: Fashion-MNIST; SxSx3: photo)."""
        shape = self.input.shape[1:]
        contract = self.card.contract if self.card else InputContract()
        if not self.card and len(shape) == 3 and shape[2] == 3 and shape[0] == shape[1]:
            contract = InputContract(recipe=PHOTO, size=shape[0], channels=3)
        outputs = self.output.shape[-1]
        if not self.card and outputs != len(contract.classes):  # no names: numbered classes
            contract = contract._replace(classes=tuple(f"class {i}" for i in range(outputs)))
        expected = contract.shape if contract.channels == 3 else (*contract.shape, 1)
        if shape not in (expected, contract.shape):
            said = "its card says" if self.card else "expected"
            raise ModelError(
                f"{self.path}: input is {list(self.input.shape)}, but {said} "
                f"{contract.recipe} views of {list(expected)}"
            )
        return contract

    @property
    def name(self) -> str:
        return self.path.name

    def view(self, image: np.ndarray, raw: bool = False) -> np.ndarray:
        """A photo or frame (uint8 gray/BGR, any size) -> this model's view, by its card's recipe."""
        return self.contract.view(image, raw)

    def _pixel_table(self) -> np.ndarray:
        """What each of the 256 pixel values becomes in the input tensor (quantized if need be)."""
        pixels = np.arange(256, dtype=np.float32)
        if not self.input.quantized:
            return pixels.astype(self.input.dtype)
        info = np.iinfo(self.input.dtype)
        q = np.round(pixels / self.input.scale) + self.input.zero_point
        return np.clip(q, info.min, info.max).astype(self.input.dtype)

    def quantize(self, images: np.ndarray) -> np.ndarray:
        """uint8 views (N, *view shape) -> the model's input tensor (N, *input_shape[1:])."""
        return self._lut[images].reshape((len(images), *self.input.shape[1:]))

    def dequantize(self, raw: np.ndarray) -> np.ndarray:
        """The output tensor -> float32 probabilities (softmax applied to logits outputs)."""
        out = raw.astype(np.float32)
        if self.output.quantized:
            out = (out - self.output.zero_point) * self.output.scale
        return softmax(out) if self.outputs_logits else out

    def _resize(self, batch: int) -> None:
        if batch != self._batch:
            self.interpreter.resize_tensor_input(self.input.index, [batch, *self.input.shape[1:]])
            self.interpreter.allocate_tensors()
            self._batch = batch

    def invoke_raw(self, tensor: np.ndarray) -> np.ndarray:
        """Run one already-quantized batch; the raw output tensor (for the benchmark).

        Interpreters are not thread-safe: the lock lets a server share one between threads.
        """
        with self._lock:
            self._resize(len(tensor))
            self.interpreter.set_tensor(self.input.index, tensor)
            try:
                self.interpreter.invoke()
            except (RuntimeError, ValueError) as exc:  # a damaged model can load, then fail here
                raise ModelError(f"{self.path} fails to run: {interpreter_message(exc)}") from None
            return self.interpreter.get_tensor(self.output.index).copy()

    def predict(self, images: np.ndarray, batch_size: int = 1) -> np.ndarray:
        """Probabilities (N, classes) for uint8 views (N, *view shape), or for one view."""
        images = np.asarray(images, dtype=np.uint8)
        if images.ndim == len(self.contract.shape):
            images = images[None]
        if len(images) <= batch_size:  # the common, latency-critical case
            return self.dequantize(self.invoke_raw(self.quantize(images)))
        chunks = [
            self.dequantize(self.invoke_raw(self.quantize(images[i : i + batch_size])))
            for i in range(0, len(images), batch_size)
        ]
        return np.concatenate(chunks) if chunks else np.zeros((0, len(self.labels)), np.float32)

    def classify(self, view: np.ndarray, k: int = 3) -> Prediction:
        """One view's prediction: best class, score and top-k."""
        return Prediction.from_probs(self.predict(view)[0], self.labels, k)

    def ops(self) -> list[dict]:
        """The model's operators with their tensors' dtypes (to prove a model is all-int8)."""
        interpreter = self.backend.inspection_interpreter(self.content)
        details = {t["index"]: t for t in interpreter.get_tensor_details()}
        ops = []
        for op in interpreter._get_ops_details():  # the public API has no op list
            dtypes = [
                np.dtype(details[i]["dtype"]).name
                for i in (*op["inputs"], *op["outputs"])
                if i in details
            ]
            ops.append({"op": op["op_name"], "dtypes": dtypes})
        return ops

    def summary_line(self) -> str:
        """`classify --verbose`: which model, how big, which recipe and backend."""
        shape = "x".join(map(str, self.input.shape[1:]))
        return (
            f"model {self.path} ({self.model_bytes:,} bytes, {self.input.dtype.name} {shape} "
            f"input, {self.contract.recipe} recipe), backend {self.backend.name} "
            f"{self.backend.version}"
        )

    def describe(self) -> dict:
        return {
            "model": str(self.path),
            "model_bytes": self.model_bytes,
            "backend": self.backend.name,
            "backend_version": self.backend.version,
            "threads": self.threads,
            "input": self.input.to_dict(),
            "output": self.output.to_dict(),
            "card": bool(self.card),
            "recipe": self.contract.recipe,
        }
