"""A photo model's frozen features, read with any TFLite runtime, and cached per image content.

The base model cut after its global average pooling (`model_file.features_model`) gives each
photo's features, and those of its mirror image (a garment is the same garment mirrored: twice
the training data for one more invoke). The cache (`feature_cache`) is keyed by the bytes of each
photo and the base model, so teaching again after collecting more costs about the new photos only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..errors import InputImageError
from ..images import decode_image, read_image_bytes
from ..quiet import captured_fds
from ..runtime.classifier import Classifier
from ..tflite.model_file import features_model
from .feature_cache import FeatureCache


class Features(NamedTuple):
    """One photo's features, and its mirror image's."""

    plain: np.ndarray
    mirrored: np.ndarray


class FeatureTable(NamedTuple):
    """The features of a list of photos, in order."""

    features: np.ndarray  # (n, 2, width) float32: each photo and its mirror image (zeros if unread)
    readable: np.ndarray  # (n,) bool
    unreadable: tuple[str, ...]  # "path: why" for each photo that could not be read
    notes: tuple[str, ...] = ()  # what the cache had to say, one line each


class FeatureReader:
    """Reads features through the base's own int8 graph, cut at its features."""

    def __init__(self, base: Classifier) -> None:
        self.base = base
        graph, self.head = features_model(base.content)
        with captured_fds((2,)):  # LiteRT logs its delegate on every load
            self.interpreter = base.backend.interpreter_class(
                model_content=graph, num_threads=base.threads
            )
            self.interpreter.allocate_tensors()
        out = self.interpreter.get_output_details()[0]
        self.output_index = out["index"]
        self.scale, self.zero_point = out["quantization"]
        self.input_index = self.interpreter.get_input_details()[0]["index"]
        self.key = hashlib.sha256(base.content).hexdigest()[:16]
        self.cache = FeatureCache(self.key, self.width)
        self.new = 0

    @property
    def width(self) -> int:
        return self.head.width

    def dequantize(self, raw: np.ndarray) -> np.ndarray:
        return (raw.astype(np.float32) - self.zero_point) * self.scale

    def _invoke(self, view: np.ndarray) -> np.ndarray:
        """The int8 features of one view, as the graph gives them."""
        tensor = self.base.quantize(view[None])
        self.interpreter.set_tensor(self.input_index, tensor)
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.output_index)[0].astype(np.int8)

    def of_bytes(self, data: bytes) -> Features:
        """The features of one encoded photo (`InputImageError` when it cannot be decoded)."""
        key = hashlib.sha256(data).digest()
        raw = self.cache.get(key)
        if raw is None:
            view = self.base.view(decode_image(data))
            raw = np.stack([self._invoke(view), self._invoke(np.ascontiguousarray(view[:, ::-1]))])
            self.cache.put(key, raw)
            self.new += 1
        both = self.dequantize(raw)
        return Features(both[0], both[1])

    def of_files(self, paths: list[Path]) -> Iterator[Features | InputImageError]:
        """Features of each file in turn; a file that cannot be read (or vanished since it was
        listed) yields its error."""
        for path in paths:
            try:
                yield self.of_bytes(read_image_bytes(path))
            except InputImageError as exc:
                yield exc

    def read_all(
        self, paths: list[Path], progress: Callable[[int, int], None] | None = None
    ) -> FeatureTable:
        """All the files' features (`progress(done, total)` told as they come), then the cache
        written once: also when interrupted (Ctrl-C keeps what was read)."""
        features = np.zeros((len(paths), 2, self.width), np.float32)
        readable = np.ones(len(paths), bool)
        unreadable = []
        try:
            for i, found in enumerate(self.of_files(paths)):
                if isinstance(found, InputImageError):
                    readable[i] = False
                    unreadable.append(f"{paths[i]}: {found}")
                else:
                    features[i] = np.stack(found)
                if progress:
                    progress(i + 1, len(paths))
        finally:
            saved = self.cache.save()
        notes = tuple(line for line in (self.cache.damaged_note(), saved) if line)
        return FeatureTable(features, readable, tuple(unreadable), notes)
