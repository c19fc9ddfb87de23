"""Training arrays for a photo model: real photos through the photo recipe, a sender-disjoint
validation split, and Fashion-MNIST crops rendered as photos for what real photos lack (bags, the
three shoe types)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputImageError
from ..images import read_image
from ..runtime.card import SENDER, SITTINGS
from ..runtime.contract import InputContract
from .fashion_mnist import load_subset
from .photoset import LABELS_CSV, PhotoSet, group_split, load_photos, mapping_for
from .sittings import SittingSplit, sitting_split
from .synthetic import render_photo

# The Fashion-MNIST test crops rendered as photos that `train` reports its test accuracy on and
# `convert` verifies on: one rendering, one seed.
TEST_RENDER_PER_CLASS = 300
TEST_RENDER_SEED = 1234


@dataclass
class PhotoArrays:
    """Views (N, size, size, 3) uint8 RGB and their allowed-class masks (N, classes) float32."""

    views: np.ndarray
    allowed: np.ndarray
    readable: np.ndarray | None = None  # per input photo: was it read (None: all were)
    labels: np.ndarray | None = None  # per view: its photo label's index for train's label head

    def __len__(self) -> int:
        return len(self.views)

    def __add__(self, other: PhotoArrays) -> PhotoArrays:
        labels = None
        if self.labels is not None or other.labels is not None:  # -1: a view without a label
            labels = np.concatenate([self._labels_or_missing(), other._labels_or_missing()])
        return PhotoArrays(
            np.concatenate([self.views, other.views]),
            np.concatenate([self.allowed, other.allowed]),
            labels=labels,
        )

    def _labels_or_missing(self) -> np.ndarray:
        return self.labels if self.labels is not None else np.full(len(self), -1)


def photo_views(photos: PhotoSet, contract: InputContract) -> Iterator[np.ndarray | None]:
    """Each photo's view through the recipe (None for an unreadable file)."""
    for item in photos.items:
        try:
            yield contract.view(read_image(item.path))
        except InputImageError:
            yield None


def photo_arrays(photos: PhotoSet, contract: InputContract, progress=None) -> PhotoArrays:
    views, keep = [], []
    for i, view in enumerate(photo_views(photos, contract)):
        if view is not None:
            views.append(view)
            keep.append(i)
        if progress:
            progress(1)
    shape = (0, *contract.shape)
    stacked = np.stack(views) if views else np.zeros(shape, np.uint8)
    readable = np.zeros(len(photos), bool)
    readable[keep] = True
    return PhotoArrays(stacked, photos.allowed[keep].astype(np.float32), readable)


def rendered_fashion_mnist(
    split: str,
    per_class: int,
    contract: InputContract,
    seed: int,
    data_dir: str | None = None,
) -> PhotoArrays:
    """Fashion-MNIST crops rendered as colour photos, then through the photo recipe."""
    data = load_subset(split, data_dir, per_class * 10, seed)
    rng = np.random.default_rng(seed)
    views = np.stack([contract.view(render_photo(image, rng)) for image in data.images])
    allowed = np.zeros((len(data), len(contract.classes)), np.float32)
    allowed[np.arange(len(data)), data.labels] = 1.0
    return PhotoArrays(views, allowed)


def own_classes_split(root: Path) -> str:
    """How photos of classes of your own are split: within each class by sitting for class
    folders (as collected: nothing starves), by sender for a `labels.csv` folder."""
    return SENDER if (Path(root) / LABELS_CSV).is_file() else SITTINGS


def split_indices(
    photos: PhotoSet, val_fraction: float, seed: int, method: str = SENDER
) -> tuple[np.ndarray, np.ndarray, SittingSplit | None]:
    """Train and validation indices: by sender or collect session (by file where neither is
    known), or with `sittings` within each class so that no class is starved."""
    if method == SITTINGS:
        order = [item.path.stem for item in photos.items]
        labels = photos.allowed.argmax(1)
        split = sitting_split(labels, photos.groups, order, photos.classes, val_fraction, seed)
        return split.train, split.val, split
    train_idx, val_idx = group_split(photos.groups, val_fraction, seed)
    return train_idx, val_idx, None


def split_photos(
    root: Path,
    contract: InputContract,
    val_fraction: float,
    seed: int,
    method: str = SENDER,
) -> tuple[PhotoSet, PhotoSet]:
    """Train and validation photos (`split_indices`); labels become the contract's classes as
    `mapping_for` says."""
    photos = load_photos(root, contract.classes, mapping_for(contract.classes))
    train_idx, val_idx, _ = split_indices(photos, val_fraction, seed, method)
    return photos.subset(train_idx), photos.subset(val_idx)
