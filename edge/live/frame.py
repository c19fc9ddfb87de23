"""A camera frame's answer: a `Prediction` with the frame, its region and the loop's timing."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from ..runtime.prediction import UNCERTAIN, Prediction
from .overlay import draw


@dataclass
class FrameResult(Prediction):
    """A camera frame's (smoothed) answer, with the frame and region it was drawn from.

    `label` is "uncertain" below the threshold; `index` is still the best class.
    """

    t: float = 0.0
    frame: int = 0
    fps: float = 0.0
    infer_ms: float = 0.0
    image: np.ndarray | None = field(default=None, repr=False)
    roi: tuple[int, int, int, int] = (0, 0, 0, 0)
    nothing: bool = False  # the best class is the model's background class: no garment in view

    @property
    def uncertain(self) -> bool:
        return self.label == UNCERTAIN

    @property
    def names_a_garment(self) -> bool:
        """Whether this frame announces a garment: sure enough, and not the background class."""
        return not (self.uncertain or self.nothing)

    def to_dict(self) -> dict:
        """`Prediction`'s JSON plus the frame's own fields: one line of `camera --headless`,
        and serve's current result."""
        return {
            **super().to_dict(),
            "t": self.t,
            "frame": self.frame,
            "fps": self.fps,
            "infer_ms": self.infer_ms,
        }

    def plot(self) -> np.ndarray:
        """A copy of the frame with the region, label, top-3 bars, FPS and model time drawn
        (drawn once, however many consumers ask)."""
        return self.annotated

    @cached_property
    def annotated(self) -> np.ndarray:
        return draw(self.image, self.roi, self)
