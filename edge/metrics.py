"""The few statistics every stage reports, computed one way: latency percentiles, per-class
accuracy and confusion counts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np


def summarize(samples: Iterable[float], scale: float = 1.0) -> dict:
    """p50/p90/p95/p99 and mean of timing samples times `scale` (s -> ms: 1000); None if empty."""
    values = np.fromiter(samples, dtype=np.float64) * scale
    if not len(values):
        return {"p50": None, "p90": None, "p95": None, "p99": None, "mean": None, "runs": 0}
    p50, p90, p95, p99 = np.percentile(values, (50, 90, 95, 99))
    return {
        "p50": float(p50),
        "p90": float(p90),
        "p95": float(p95),
        "p99": float(p99),
        "mean": float(values.mean()),
        "runs": int(len(values)),
    }


def per_class_accuracy(
    right: np.ndarray, rows: np.ndarray, names: Sequence[str]
) -> dict[str, float | None]:
    """Share right among the images of each row (a class, or a photo folder's own label)."""
    return {
        name: float(right[rows == i].mean()) if (rows == i).any() else None
        for i, name in enumerate(names)
    }


def confusion_counts(
    rows: np.ndarray, predicted: np.ndarray, n_rows: int, n_classes: int
) -> np.ndarray:
    """Counts of (true row, predicted class) pairs; rows are classes, or a photo folder's labels."""
    matrix = np.zeros((n_rows, n_classes), dtype=np.int64)
    np.add.at(matrix, (rows.astype(int), predicted.astype(int)), 1)
    return matrix


def one_hot(labels: np.ndarray, classes: int, dtype=bool) -> np.ndarray:
    """(N,) class indices -> (N, classes) masks: the right class of each image (float for
    Keras targets, bool for set-valued scoring)."""
    return np.eye(classes, dtype=dtype)[np.asarray(labels, dtype=int)]


def label_set_rows(
    allowed: np.ndarray, classes: Sequence[str]
) -> tuple[np.ndarray, tuple[str, ...], np.ndarray]:
    """Rows for a confusion matrix of images labelled with sets of classes (a hoodie may be a
    Pullover or a Coat): one row per distinct set, named 'Pullover/Coat'. Returns each image's
    row, the row names and, per row, the classes that count as right."""
    sets, row_index = np.unique(np.asarray(allowed, bool), axis=0, return_inverse=True)
    names = tuple("/".join(c for c, ok in zip(classes, row, strict=True) if ok) for row in sets)
    return row_index.reshape(-1), names, sets
