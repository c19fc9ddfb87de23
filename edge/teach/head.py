"""The new classes' head: softmax regression on a photo model's frozen features, fitted in NumPy.

Features are standardised (so one L2 strength suits any base), the weights are fitted by full-batch
gradient descent with Nesterov momentum on the mean cross-entropy plus L2, and the
standardisation is folded back into the weights, so the head is one dense layer on the raw
features: exactly what replaces the base's own last layer. With `--keep-classes`, the base's own
layer stays in it and new rows are added (`fit_keeping`).
"""

from __future__ import annotations

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


def fit(
    features: np.ndarray, labels: np.ndarray, classes: int, l2: float = DEFAULT_L2
) -> SoftmaxHead:
    """Minimise mean cross-entropy + l2/2 |W|^2 on standardised features."""
    targets = np.eye(classes)[labels]
    # Each class weighs the same, however many photos it has.
    counts = np.maximum(targets.sum(axis=0), 1)
    sample_weight = (targets / counts).sum(axis=1) * len(labels) / classes
    return fit_targets(features, targets, sample_weight, l2)


def fit_keeping(
    base: SoftmaxHead,
    bank: np.ndarray,
    features: np.ndarray,
    labels: np.ndarray,
    classes: int,
    l2: float = DEFAULT_L2,
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
    head = fit_targets(
        np.concatenate([bank, features]),
        np.concatenate([bank_targets, new_targets]),
        np.concatenate([np.ones(len(bank)), new_weight]),
        l2,
        start=start,
        frozen=kept,
    )
    bias = head.bias.copy()
    bias[kept:] += NEW_CLASS_BIAS
    return head._replace(bias=bias)


def fit_targets(
    features: np.ndarray,
    targets: np.ndarray,
    sample_weight: np.ndarray,
    l2: float,
    start: SoftmaxHead | None = None,
    frozen: int = 0,
) -> SoftmaxHead:
    """Mean weighted cross-entropy against (soft) targets + l2/2 |W|^2, by full-batch Nesterov
    gradient descent on standardised features; from `start`, with its first `frozen` rows kept."""
    x = features.astype(np.float64)
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-6
    z = (x - mean) / std
    n, classes = targets.shape
    sample_weight = sample_weight * n / sample_weight.sum()
    if start is None:
        w, b = np.zeros((classes, z.shape[1])), np.zeros(classes)
    else:  # the same layer, on standardised features
        w = start.weights.astype(np.float64) * std
        b = start.bias.astype(np.float64) + start.weights.astype(np.float64) @ mean
    vw, vb = np.zeros_like(w), np.zeros_like(b)
    for _ in range(STEPS):
        lw, lb = w + 0.9 * vw, b + 0.9 * vb  # Nesterov look-ahead
        logits = z @ lw.T + lb
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        error = (p - targets) * sample_weight[:, None] / n
        gw = error.T @ z + l2 * lw
        gb = error.sum(axis=0)
        gw[:frozen], gb[:frozen] = 0, 0
        vw = 0.9 * vw - LEARNING_RATE * gw
        vb = 0.9 * vb - LEARNING_RATE * gb
        w, b = w + vw, b + vb
    weights = w / std  # fold the standardisation into the layer
    bias = b - weights @ mean
    if start is not None and frozen:  # exactly the base's rows, not a round trip of them
        weights[:frozen], bias[:frozen] = start.weights[:frozen], start.bias[:frozen]
    return SoftmaxHead(weights.astype(np.float32), bias.astype(np.float32), l2)


def accuracy(head: SoftmaxHead, features: np.ndarray, labels: np.ndarray) -> float:
    return float((head.logits(features).argmax(axis=1) == labels).mean()) if len(labels) else 0.0


def fit_tuned(
    train_x: np.ndarray,
    train_y: np.ndarray,
    val_x: np.ndarray,
    val_y: np.ndarray,
    classes: int,
) -> SoftmaxHead:
    """The head whose L2 strength scores best on the validation photos (ties: the stronger),
    or the default strength when there are none."""
    if not len(val_y):
        return fit(train_x, train_y, classes)
    heads = [fit(train_x, train_y, classes, l2) for l2 in L2_CHOICES]
    scores = [accuracy(h, val_x, val_y) for h in heads]
    best = max(range(len(heads)), key=lambda i: (scores[i], L2_CHOICES[i]))
    return heads[best]
