"""How often a model names a garment where there is none: `bench --no-garment DIR`.

A counter camera sees an empty counter most of the day, and a classifier always answers with one of
its classes. Two things keep it quiet: `--threshold` (below that score the answer is "uncertain")
and a background class learned from empty frames (`train --background-class`). Each is scored on
frames with no garment, beside the share of real garments it still names right: a quiet model is
no use if it is quiet about the garments too.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..datasets.photoset import set_correct
from ..errors import EdgeclfError, InputImageError
from ..images import expand_inputs, read_image
from ..runtime.classifier import Classifier

THRESHOLDS = (0.0, 0.5, 0.7, 0.9)


@dataclass(frozen=True)
class AlarmRate:
    """At one threshold: the share of empty frames announced as a garment, and the share of
    garment images named right with a score at or above it."""

    threshold: float
    false_alarms: float
    garments_named: float


@dataclass(frozen=True)
class NoGarmentReport:
    folder: str
    frames: int
    unreadable: int
    background_class: str | None
    rates: tuple[AlarmRate, ...]

    def to_dict(self) -> dict:
        return asdict(self)


def no_garment_views(clf: Classifier, folder: Path) -> tuple[np.ndarray, int]:
    """The model's views of every image under `folder` (checked to be a folder by
    `BenchOptions.for_command`, before the accuracy pass), and how many could not be read."""
    views, unreadable = [], 0
    for path, problem in expand_inputs([str(folder)]).found:
        if problem:
            raise EdgeclfError(f"--no-garment {folder}: {problem}")
        try:
            views.append(clf.view(read_image(path)))
        except InputImageError:
            unreadable += 1
    if not views:
        raise EdgeclfError(f"--no-garment {folder}: no readable image")
    return np.stack(views), unreadable


def announced(probs: np.ndarray, threshold: float, background: int | None) -> np.ndarray:
    """Where a garment is announced: the best score reaches `threshold` and is not background."""
    named = probs.max(1) >= threshold
    if background is not None:
        named &= probs.argmax(1) != background
    return named


def alarm_rates(
    empty_probs: np.ndarray,
    probs: np.ndarray,
    allowed: np.ndarray,
    background: int | None,
    thresholds: tuple[float, ...] = THRESHOLDS,
) -> tuple[AlarmRate, ...]:
    """False alarms on empty frames and garments named right, per threshold. Labelled images
    whose only right answer is the background class are left out of the garments."""
    garments = allowed.any(1)
    if background is not None:
        garments &= allowed.sum(1) > allowed[:, background]
    right = set_correct(probs, allowed) & garments
    n_garments = max(1, int(garments.sum()))
    return tuple(
        AlarmRate(
            threshold=t,
            false_alarms=round(float(announced(empty_probs, t, background).mean()), 4),
            garments_named=round(
                float((right & announced(probs, t, background)).sum()) / n_garments, 4
            ),
        )
        for t in thresholds
    )


def no_garment_report(
    clf: Classifier, folder: Path, probs: np.ndarray, allowed: np.ndarray, predict
) -> NoGarmentReport:
    """The whole `--no-garment` measurement; `predict` is bench's one-invoke-per-image pass."""
    views, unreadable = no_garment_views(clf, folder)
    background = clf.contract.background
    index = clf.labels.index(background) if background else None
    return NoGarmentReport(
        folder=str(folder),
        frames=len(views),
        unreadable=unreadable,
        background_class=background,
        rates=alarm_rates(predict(views), probs, allowed, index),
    )
