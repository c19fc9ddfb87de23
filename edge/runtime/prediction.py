"""What a classification returns: typed results that own their one JSON shape (and, for camera
frames, their drawing), as `Category` does in the TFLite Raspberry Pi example and `Results` in
Ultralytics. Every consumer (tables, catalog audits, JSON lines, serve) takes these; a camera
frame's answer extends `Prediction` in `live.frame`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

UNCERTAIN = "uncertain"
NO_GARMENT = "no garment"  # a blank camera region


class Ranked(NamedTuple):
    """One entry of a top-k list."""

    label: str
    score: float

    def to_dict(self) -> dict:
        return {"label": self.label, "score": self.score}


def top_k(probs: np.ndarray, labels: tuple[str, ...], k: int) -> tuple[Ranked, ...]:
    """The k most probable classes, best first (ties keep class order)."""
    order = np.argsort(-probs, kind="stable")[:k]
    return tuple(Ranked(labels[i], round(float(probs[i]), 4)) for i in order)


@dataclass
class Prediction:
    """One image's answer: the best class, its score and the top-k list.

    `path`, `ms` and `input_png` are set by `classify` and serve's uploads; a field left None is
    left out of the JSON.
    """

    label: str
    index: int
    score: float
    top_k: tuple[Ranked, ...]
    path: str | None = None
    ms: float | None = None
    input_png: str | None = None

    ok = True

    @classmethod
    def from_probs(cls, probs: np.ndarray, labels: tuple[str, ...], k: int = 3) -> Prediction:
        best = int(np.argmax(probs))
        return cls(labels[best], best, round(float(probs[best]), 4), top_k(probs, labels, k))

    @property
    def runner_up(self) -> Ranked | None:
        return self.top_k[1] if len(self.top_k) > 1 else None

    def to_dict(self) -> dict:
        """The JSON of `classify --json` and `POST /classify`."""
        out = {"path": self.path} if self.path is not None else {}
        out.update(
            label=self.label,
            index=self.index,
            score=self.score,
            top_k=[entry.to_dict() for entry in self.top_k],
        )
        if self.ms is not None:
            out["ms"] = self.ms
        if self.input_png is not None:
            out["input_png"] = self.input_png
        return out


@dataclass
class Failure:
    """An input that could not be classified; a batch reports it and goes on."""

    path: str
    error: str

    ok = False

    def to_dict(self) -> dict:
        return {"path": self.path, "error": self.error}


Result = Prediction | Failure
