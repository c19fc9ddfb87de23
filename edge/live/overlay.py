"""Draw a camera result on its frame: region box, label, top-3 bars, FPS and inference time."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import cv2
import numpy as np

from ..runtime.prediction import Ranked


class Drawable(Protocol):
    """What the overlay reads of a frame's result (a `FrameResult`)."""

    label: str
    score: float
    top_k: Sequence[Ranked]
    fps: float
    infer_ms: float

    @property
    def names_a_garment(self) -> bool: ...


GREEN, AMBER, WHITE, DARK = (80, 200, 80), (0, 170, 255), (255, 255, 255), (30, 30, 30)


def draw(frame: np.ndarray, roi, result: Drawable) -> np.ndarray:
    """A copy of `frame` annotated with the result (amber when it names no garment: uncertain,
    or the background class)."""
    out = frame.copy()
    x, y, w, h = roi
    colour = GREEN if result.names_a_garment else AMBER
    cv2.rectangle(out, (x, y), (x + w, y + h), colour, 2)
    _text(out, f"{result.label} {result.score:.0%}", (10, 34), 0.9, colour)
    for i, entry in enumerate(result.top_k[:3]):
        y0, p = 52 + i * 24, entry.score
        cv2.rectangle(out, (10, y0), (10 + int(160 * p), y0 + 16), colour, -1)
        cv2.rectangle(out, (10, y0), (170, y0 + 16), WHITE, 1)
        _text(out, f"{entry.label} {p:.0%}", (178, y0 + 13), 0.5, WHITE)
    footer = f"{result.fps:.1f} FPS  model {result.infer_ms:.2f} ms"
    _text(out, footer, (10, out.shape[0] - 12), 0.55, WHITE)
    return out


def _text(img, text, org, scale, colour) -> None:
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, DARK, 4, cv2.LINE_AA)
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, colour, 1, cv2.LINE_AA)


def with_counts(frame: np.ndarray, lines: list[str]) -> np.ndarray:
    """A copy with the collect counts in the top-right corner, one line per class and key."""
    out = frame.copy()
    for i, line in enumerate(lines):  # right-aligned: a long class name stays in the frame
        (width, _), _ = cv2.getTextSize(line, cv2.FONT_HERSHEY_SIMPLEX, 0.55, 4)
        _text(out, line, (max(0, out.shape[1] - width - 12), 30 + 22 * i), 0.55, WHITE)
    return out
