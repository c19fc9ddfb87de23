"""`Classifier`: one TFLite model, its card, and correct (de)quantization for any I/O dtype."""

from __future__ import annotations

import ctypes
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .backends import Backend, load_backend
from .card import load_card
from .classes import CLASS_NAMES
from .errors import ModelError, first_line
from .quiet import captured_fds

MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
DEFAULT_MODEL = MODELS_DIR / "fashion_int8.tflite"


@dataclass(frozen=True)
class TensorSpec:
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


class Classifier:
    """Loads a `.tflite` (and its card) and maps 28x28 uint8 images to class probabilities.

    Images are Fashion-MNIST-like: uint8, light garment on black. The model gets raw pixel values,
    quantized with its input's scale and zero point (int8 models: exactly `pixel - 128`).
    """

    def __init__(
        self,
        model_path: str | os.PathLike | None = None,
        backend: str | None = None,
        threads: int | None = None,
        delegate: str | None = None,
    ) -> None:
        self.path = Path(model_path) if model_path else DEFAULT_MODEL
        try:
            model_bytes = self.path.read_bytes()
        except FileNotFoundError:
            raise ModelError(f"model not found: {self.path}") from None
        except OSError as exc:
            raise ModelError(f"cannot read model {self.path}: {exc.strerror}") from None
        self.model_bytes = len(model_bytes)
        self._content = model_bytes
        self.card = load_card(self.path, model_bytes)
        self.backend: Backend = load_backend(backend)
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
        if self.input.shape[1:] not in ((28, 28, 1), (28, 28)):
            raise ModelError(f"{self.path}: input is {list(self.input.shape)}, expected 28x28x1")
        self.labels: tuple[str, ...] = tuple(self.card["classes"]) if self.card else CLASS_NAMES
        if self.output.shape[-1] != len(self.labels):
            raise ModelError(
                f"{self.path}: {self.output.shape[-1]} outputs but {len(self.labels)} class names"
            )
        self.outputs_logits = bool(
            self.card and self.card.get("output", {}).get("kind") == "logits"
        )
        self._batch = self.input.shape[0]
        self._lut = self._pixel_table()
        self._lock = threading.Lock()

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

    @property
    def name(self) -> str:
        return self.path.name

    def _pixel_table(self) -> np.ndarray:
        """What each of the 256 pixel values becomes in the input tensor (quantized if need be)."""
        pixels = np.arange(256, dtype=np.float32)
        if not self.input.quantized:
            return pixels.astype(self.input.dtype)
        info = np.iinfo(self.input.dtype)
        q = np.round(pixels / self.input.scale) + self.input.zero_point
        return np.clip(q, info.min, info.max).astype(self.input.dtype)

    def quantize(self, images: np.ndarray) -> np.ndarray:
        """uint8 pixels (N, 28, 28) -> the model's input tensor (N, *input_shape[1:])."""
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
            self.interpreter.invoke()
            return self.interpreter.get_tensor(self.output.index).copy()

    def predict(self, images: np.ndarray, batch_size: int = 1) -> np.ndarray:
        """Probabilities (N, classes) for uint8 images (N, 28, 28)."""
        images = np.asarray(images, dtype=np.uint8)
        if images.ndim == 2:
            images = images[None]
        if len(images) <= batch_size:  # the common, latency-critical case
            return self.dequantize(self.invoke_raw(self.quantize(images)))
        chunks = [
            self.dequantize(self.invoke_raw(self.quantize(images[i : i + batch_size])))
            for i in range(0, len(images), batch_size)
        ]
        return np.concatenate(chunks) if chunks else np.zeros((0, len(self.labels)), np.float32)

    def ops(self) -> list[dict]:
        """The model's operators with their tensors' dtypes (to prove a model is all-int8)."""
        interpreter = self.backend.inspection_interpreter(self._content)
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
        }
