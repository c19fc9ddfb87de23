"""The arrays a run trains, validates and tests on, for either kind of model."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..edge.datasets.fashion_mnist import balanced_subset, load_split, load_subset
from ..edge.metrics import one_hot
from ..edge.runtime.classes import CLASS_NAMES, NUM_CLASSES
from ..edge.runtime.contract import InputContract
from .photo_training import photo_contract, prepare_photo_data


def split_validation(labels: np.ndarray, val_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Class-balanced validation indices taken from train (never test), and the rest."""
    val = balanced_subset(labels, val_size, seed)
    train = np.setdiff1d(np.arange(len(labels)), val)
    return train, val


def as_input(images: np.ndarray) -> np.ndarray:
    """uint8 (N, 28, 28) -> the model's float32 (N, 28, 28, 1) raw-pixel input."""
    return images[..., None].astype("float32")


def prepare_data(cfg):
    """Train/validation arrays (validation taken from train, class-balanced) and the test split."""
    train_split = load_subset("train", cfg.data_dir, cfg.limit, cfg.seed)
    test_split = load_split("test", cfg.data_dir)
    x_all, y_all = train_split.images, train_split.labels
    val_size = min(cfg.val_size, max(NUM_CLASSES, len(y_all) // 10))
    train_idx, val_idx = split_validation(y_all, val_size, cfg.seed)

    def pair(idx: np.ndarray):
        return as_input(x_all[idx]), one_hot(y_all[idx], NUM_CLASSES, np.float32)

    return pair(train_idx), pair(val_idx), test_split


@dataclass
class TrainingData:
    """Model inputs (float32 raw pixels) and targets (one-hot, or allowed-class masks)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    test_name: str
    contract: InputContract
    seen: dict
    label_names: tuple[str, ...] = ()  # photo labels of train's label head: y_train's last columns


def prepare_fashion_mnist(cfg) -> TrainingData:
    (x_train, y_train), (x_val, y_val), test_split = prepare_data(cfg)
    y_test = one_hot(test_split.labels, NUM_CLASSES, np.float32)
    x_test = as_input(test_split.images)
    seen = {"data": str(test_split.source)}
    return TrainingData(
        x_train, y_train, x_val, y_val, x_test, y_test, "fashion-mnist test", InputContract(), seen
    )


def prepare_photo(cfg) -> TrainingData:
    contract = photo_contract(cfg, tuple(cfg.classes or CLASS_NAMES))
    train, val, test, seen = prepare_photo_data(cfg, contract)
    as_float = lambda a: a.views.astype("float32")  # noqa: E731
    label_names = tuple(seen.get("label_head", {}).get("labels", ()))
    return TrainingData(
        as_float(train),
        with_label_targets(train.allowed, train.labels, len(label_names)),
        as_float(val),
        val.allowed,
        as_float(test),
        test.allowed,
        "validation photos" if cfg.classes else "fashion-mnist test rendered as photos",
        contract,
        seen,
        label_names,
    )


def with_label_targets(allowed: np.ndarray, labels: np.ndarray | None, count: int) -> np.ndarray:
    """[allowed classes | one-hot photo label] for a label head (no label, or `labels` None: a row
    of zeros)."""
    if not count:
        return allowed
    onehot = np.zeros((len(allowed), count), np.float32)
    if labels is not None:
        known = np.flatnonzero(labels >= 0)
        onehot[known, labels[known]] = 1.0
    return np.concatenate([allowed, onehot], axis=1)
