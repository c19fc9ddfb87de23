"""The new classes' head: softmax regression on a photo model's frozen features, fitted in NumPy.

Features are standardised (so one L2 strength suits any base), the weights are fitted by full-batch
gradient descent with Nesterov momentum on the mean cross-entropy plus L2, and the
standardisation is folded back into the weights, so the head is one dense layer on the raw
features: exactly what replaces the base's own last layer. With `--keep-classes`, the base's own
layer stays in it and new rows are added (`fit_keeping`).

Fast where teaching runs (beside a camera loop, on a busy CPU): the L2 candidates are fitted
jointly, one matrix product a step for all of them, in float32, on one BLAS thread. BLAS starts a
thread per core, and on a busy 2-core machine that made the fit 7 to 12 times slower.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

L2_CHOICES = (1e-3, 1e-2, 3e-2, 1e-1)  # tried on the validation photos when there are some
DEFAULT_L2 = 1e-2
STEPS = 400
LEARNING_RATE = 0.5
# With --keep-classes: a new class needs e^1.5 (4.5x) the evidence to take a photo from a base
# class (-1 cost the base classes 2.5 points in benchmarks/keep_classes.py, -2 gave 4 fewer new).
NEW_CLASS_BIAS = -1.5


class SoftmaxHead(NamedTuple):
    """Logits = features @ weights.T + bias, on the raw (not standardised) features."""

    weights: np.ndarray  # (classes, width) float32
    bias: np.ndarray  # (classes,) float32
    l2: float

    def logits(self, features: np.ndarray) -> np.ndarray:
        return features @ self.weights.T + self.bias

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        z = self.logits(features)
        z = np.exp(z - z.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)


Progress = Callable[[int, int], None]


def fit(
    features: np.ndarray, labels: np.ndarray, classes: int, l2: float = DEFAULT_L2
) -> SoftmaxHead:
    """Minimise mean cross-entropy + l2/2 |W|^2 on standardised features."""
    return fit_path(features, labels, classes, (l2,))[0]


def balanced_weights(labels: np.ndarray, classes: int) -> np.ndarray:
    """Each class weighs the same, however many photos it has."""
    counts = np.maximum(np.bincount(labels, minlength=classes), 1)
    return len(labels) / classes / counts[labels]


def fit_path(
    features: np.ndarray,
    labels: np.ndarray,
    classes: int,
    l2s: Sequence[float],
    progress: Progress | None = None,
) -> list[SoftmaxHead]:
    """One head per L2 strength, fitted together (class-balanced)."""
    targets = np.eye(classes, dtype=np.float32)[labels]
    return fit_targets(features, targets, balanced_weights(labels, classes), l2s, progress=progress)


def fit_keeping(
    base: SoftmaxHead,
    bank: np.ndarray,
    features: np.ndarray,
    labels: np.ndarray,
    classes: int,
    l2: float = DEFAULT_L2,
    progress: Progress | None = None,
) -> SoftmaxHead:
    """The base's classes kept as they are, and `classes` new ones after them.

    The base's rows stay frozen, so its classes rank among themselves exactly as before. The new
    rows learn from the new photos against a bank of the base's own photos' features, whose
    targets are the base's own probabilities: a new class must win on its photos and lose on
    theirs. Each new class weighs as much as one bank class, and its bias is lowered by
    NEW_CLASS_BIAS, so a base photo is rarely taken for a new class (measured in README).
    """
    kept = len(base.bias)
    total = kept + classes
    bank_targets = np.hstack([base.probabilities(bank), np.zeros((len(bank), classes))])
    new_targets = np.eye(total)[kept + labels]
    counts = np.maximum(np.bincount(labels, minlength=classes), 1)
    new_weight = len(bank) / kept / counts[labels]
    start = SoftmaxHead(
        np.vstack([base.weights, np.zeros((classes, base.weights.shape[1]), np.float32)]),
        np.concatenate([base.bias, np.zeros(classes, np.float32)]),
        l2,
    )
    (head,) = fit_targets(
        np.concatenate([bank, features]),
        np.concatenate([bank_targets, new_targets]),
        np.concatenate([np.ones(len(bank)), new_weight]),
        (l2,),
        start=start,
        frozen=kept,
        progress=progress,
    )
    bias = head.bias.copy()
    bias[kept:] += NEW_CLASS_BIAS
    return head._replace(bias=bias)


def fit_targets(
    features: np.ndarray,
    targets: np.ndarray,
    sample_weight: np.ndarray,
    l2s: Sequence[float],
    start: SoftmaxHead | None = None,
    frozen: int = 0,
    progress: Progress | None = None,
) -> list[SoftmaxHead]:
    """Mean weighted cross-entropy against (soft) targets + l2/2 |W|^2, by full-batch Nesterov
    gradient descent on standardised features, for each L2 strength at once; from `start`, with
    its first `frozen` rows kept. `progress(step, STEPS)` is told every few steps."""
    with one_blas_thread():
        return _fit_targets(features, targets, sample_weight, l2s, start, frozen, progress)


def one_blas_thread():
    """BLAS on one thread for the fit (threadpoolctl, in the edge extras); where it is missing,
    the fit runs as it is, only slower on a busy CPU."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _fit_targets(features, targets, sample_weight, l2s, start, frozen, progress):
    x = np.asarray(features, np.float64)
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-6
    z = ((x - mean) / std).astype(np.float32)
    n, classes = targets.shape
    paths, width = len(l2s), z.shape[1]
    targets = np.tile(np.asarray(targets, np.float32), (1, paths))  # (n, paths * classes)
    scale = (np.asarray(sample_weight, np.float64) / np.sum(sample_weight)).astype(np.float32)
    decay = np.repeat(np.asarray(l2s, np.float32), classes)[:, None]  # per row of w
    if start is None:
        w, b = np.zeros((paths * classes, width), np.float32), np.zeros(paths * classes, np.float32)
    else:  # the same layer, on standardised features, for every path
        w = np.tile((start.weights.astype(np.float64) * std).astype(np.float32), (paths, 1))
        b = np.tile(start.bias + start.weights.astype(np.float64) @ mean, paths).astype(np.float32)
    learns = np.ones((paths, classes, 1), np.float32)
    learns[:, :frozen] = 0
    learns = learns.reshape(-1, 1)
    vw, vb = np.zeros_like(w), np.zeros_like(b)
    for step in range(STEPS):
        lw, lb = w + 0.9 * vw, b + 0.9 * vb  # Nesterov look-ahead
        logits = (z @ lw.T + lb).reshape(n, paths, classes)
        logits -= logits.max(axis=2, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=2, keepdims=True)
        error = (p.reshape(n, -1) - targets) * scale[:, None]
        gw = (error.T @ z + decay * lw) * learns
        gb = error.sum(axis=0) * learns[:, 0]
        vw = 0.9 * vw - LEARNING_RATE * gw
        vb = 0.9 * vb - LEARNING_RATE * gb
        w, b = w + vw, b + vb
        if progress and (step + 1) % 20 == 0:
            progress(step + 1, STEPS)
    heads = []
    for k, l2 in enumerate(l2s):
        rows = slice(k * classes, (k + 1) * classes)
        weights = w[rows].astype(np.float64) / std  # fold the standardisation into the layer
        bias = b[rows].astype(np.float64) - weights @ mean
        if start is not None and frozen:  # exactly the base's rows, not a round trip of them
            weights[:frozen], bias[:frozen] = start.weights[:frozen], start.bias[:frozen]
        heads.append(SoftmaxHead(weights.astype(np.float32), bias.astype(np.float32), l2))
    return heads


def accuracy(head: SoftmaxHead, features: np.ndarray, labels: np.ndarray) -> float:
    return float((head.logits(features).argmax(axis=1) == labels).mean()) if len(labels) else 0.0


def fit_tuned(
    train_x: np.ndarray,
    train_y: np.ndarray,
    val_x: np.ndarray,
    val_y: np.ndarray,
    classes: int,
    progress: Progress | None = None,
) -> SoftmaxHead:
    """The head whose L2 strength scores best on the validation photos (ties: the stronger),
    or the default strength when there are none."""
    if not len(val_y):
        return fit_path(train_x, train_y, classes, (DEFAULT_L2,), progress)[0]
    heads = fit_path(train_x, train_y, classes, L2_CHOICES, progress)
    scores = [accuracy(h, val_x, val_y) for h in heads]
    best = max(range(len(heads)), key=lambda i: (scores[i], L2_CHOICES[i]))
    return heads[best]
