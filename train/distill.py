"""Knowledge distillation: soft targets from a larger teacher, computed once before training.

The teacher runs once over the clean training images (not once per augmented batch, which would
more than double the time per epoch on a CPU). Each image's target is then a blend of its
one-hot label and the teacher's probabilities, so the student learns which classes look alike
(shirt vs. T-shirt vs. coat) and not only which one is right.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..convert.keras_io import load_keras_model
from ..edge.errors import EdgeclfError

SPLIT_KEYS = ("seed", "val_size", "limit")


def check_same_split(teacher: Path, student_cfg: dict) -> None:
    """Refuse a teacher that trained on the student's validation images (it would inflate val)."""
    config = teacher.parent / "config.json"
    if not config.is_file():
        return
    theirs = json.loads(config.read_text())
    differs = [k for k in SPLIT_KEYS if theirs.get(k) != student_cfg.get(k)]
    if differs:
        raise EdgeclfError(
            f"teacher {teacher} used a different train/validation split ({', '.join(differs)} "
            "differ), so it has seen this run's validation images; train both with the same values"
        )


def load_teacher(path: Path):
    return load_keras_model(path, "teacher model", EdgeclfError)


def soft_targets(teacher, x: np.ndarray, one_hot: np.ndarray, weight: float) -> np.ndarray:
    """`weight` of the teacher's probabilities plus the rest of the one-hot label, per image."""
    probs = teacher.predict(x, batch_size=512, verbose=0).astype("float32")
    if probs.shape != one_hot.shape:
        raise EdgeclfError(f"teacher outputs {probs.shape[1:]}, expected {one_hot.shape[1:]}")
    return weight * probs + (1.0 - weight) * one_hot
