"""The images a conversion calibrates on and verifies against, chosen by the model's contract.

Fashion-MNIST models: a class-balanced sample of training images, and the test split.
Photo models: real training photos (through the recipe) mixed with Fashion-MNIST rendered as photos,
as in training; verified on the real photos' sender-disjoint validation split, where those photos
are at hand, and on the Fashion-MNIST test crops rendered as photos.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..edge.datasets.fashion_mnist import load_split, load_subset
from ..edge.datasets.photo_data import (
    TEST_RENDER_PER_CLASS,
    TEST_RENDER_SEED,
    PhotoArrays,
    photo_arrays,
    rendered_fashion_mnist,
    split_photos,
)
from ..edge.errors import EdgeclfError
from ..edge.metrics import one_hot
from ..edge.runtime.card import SENDER, PhotoSplit
from ..edge.runtime.classes import CLASS_NAMES
from ..edge.runtime.contract import PHOTO, InputContract


@dataclass
class VerificationSet:
    """Views and the set of right classes for each, with what they are called in reports."""

    name: str
    views: np.ndarray
    allowed: np.ndarray  # (N, classes) bool

    @classmethod
    def from_labels(cls, name: str, views: np.ndarray, labels: np.ndarray, classes: int):
        return cls(name, views, one_hot(labels, classes))

    @classmethod
    def from_arrays(cls, name: str, arrays: PhotoArrays):
        return cls(name, arrays.views, arrays.allowed > 0)


def photo_folder(split: PhotoSplit | None, override: str | None) -> Path | None:
    """The labelled photos a photo model was trained on (or `--photos`), when they are here."""
    folder = override or (split.photos if split else None)
    return Path(folder) if folder and Path(folder).is_dir() else None


def calibration_views(
    contract: InputContract,
    samples: int,
    seed: int,
    data_dir,
    photos: Path | None,
    split: PhotoSplit | None,
) -> np.ndarray:
    """Representative inputs for int8 calibration (never validation or test images)."""
    if contract.recipe != PHOTO:
        return load_subset("train", data_dir, samples, seed).images
    parts = []
    fashion = is_fashion_mnist(contract)
    if photos:
        fraction, split_seed, method = (
            (split.val_fraction, split.seed, split.method) if split else (0.15, 0, SENDER)
        )
        train_set, _ = split_photos(photos, contract, fraction, split_seed, method)
        share = samples // 2 if fashion else samples  # own classes: their photos only
        keep = np.random.default_rng(seed).permutation(len(train_set))[:share]
        parts.append(photo_arrays(train_set.subset(np.sort(keep)), contract).views)
    if not fashion:
        if not parts:
            raise EdgeclfError("a model of your own classes calibrates on its photos: --photos DIR")
        return parts[0]
    rendered = max(1, (samples - sum(map(len, parts))) // 10)
    parts.append(rendered_fashion_mnist("train", rendered, contract, seed, data_dir).views)
    return np.concatenate(parts)


def verification_sets(
    contract: InputContract, data_dir, photos: Path | None, split: PhotoSplit | None
) -> list[VerificationSet]:
    """What the TFLite model is checked on; the first set decides pass or fail."""
    if contract.recipe != PHOTO:
        test = load_split("test", data_dir)
        return [VerificationSet.from_labels("test", test.images, test.labels, 10)]
    sets = []
    if photos and split:
        _, val_set = split_photos(photos, contract, split.val_fraction, split.seed, split.method)
        sets.append(
            VerificationSet.from_arrays("real-photo validation", photo_arrays(val_set, contract))
        )
    else:
        print(
            "note: the training photos are not here; verifying on Fashion-MNIST rendered as "
            "photos only (pass --photos DIR to verify on real photos)",
            file=sys.stderr,
        )
    if is_fashion_mnist(contract):
        rendered = rendered_fashion_mnist(
            "test", TEST_RENDER_PER_CLASS, contract, TEST_RENDER_SEED, data_dir
        )
        sets.append(VerificationSet.from_arrays("Fashion-MNIST test as photos", rendered))
    if not sets:
        raise EdgeclfError("a model of your own classes is verified on its photos: --photos DIR")
    return sets


def is_fashion_mnist(contract: InputContract) -> bool:
    return contract.classes == CLASS_NAMES
