"""What `edgeclf bench` scores: the Fashion-MNIST test split (rendered as photos for a photo
model), or a folder of labelled real photos with set-valued labels."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..datasets.fashion_mnist import load_subset
from ..datasets.photo_data import photo_arrays, split_indices
from ..datasets.photoset import MOST_MISSING, first_few, load_photos, mapping_for
from ..datasets.synthetic import render_photo
from ..errors import EdgeclfError
from ..metrics import one_hot
from ..runtime.classifier import Classifier
from ..runtime.contract import PHOTO
from .options import BenchOptions


@dataclass
class BenchData:
    """The views scored, the right classes for each (sets for ambiguous photo labels), and the
    row each belongs to in the confusion matrix (a class, or a photo folder's own label)."""

    views: np.ndarray
    allowed: np.ndarray  # (N, classes) bool
    rows: tuple[str, ...]
    row_index: np.ndarray
    source: str
    sample: np.ndarray  # a 28x28 Fashion-MNIST crop, staged in a 640x480 frame for timing


def fashion_mnist_data(clf: Classifier, opts: BenchOptions) -> BenchData:
    """The test split; a photo model sees each crop rendered as a photo, through its recipe."""
    split = load_subset("test", opts.data_dir, opts.limit, opts.seed)
    images, labels = split.images, split.labels
    source = str(split.source)
    if clf.contract.recipe == PHOTO:
        rng = np.random.default_rng(opts.seed)
        views = np.stack([clf.view(render_photo(image, rng)) for image in images])
        source += ", rendered as photos"
    else:
        views = images
    allowed = one_hot(labels, len(clf.labels))
    return BenchData(views, allowed, clf.labels, labels.astype(int), source, split.images[0])


def photo_data(clf: Classifier, opts: BenchOptions) -> BenchData:
    """A labelled photo folder through the model's recipe, scored with set-valued labels."""
    photos = load_photos(Path(opts.images), clf.labels, mapping_for(clf.labels))
    photos.print_notes()
    if opts.split != "all":
        split = clf.card.validation if clf.card else None
        if not split:
            raise EdgeclfError(f"--split {opts.split}: {clf.name}'s card records no photo split")
        trained_on = Path(split.photos or "").name
        if trained_on and trained_on != Path(opts.images).resolve().name:
            print(
                f"warning: --split {opts.split}: {clf.name} trained on photos from "
                f"'{trained_on}', not '{Path(opts.images).name}', so none of these was seen in "
                "training: score them all with --split all",
                file=sys.stderr,
            )
        train_idx, val_idx, _ = split_indices(photos, split.val_fraction, split.seed, split.method)
        photos = photos.subset(val_idx if opts.split == "val" else train_idx)
    if opts.limit:
        photos = photos.subset(
            np.sort(np.random.default_rng(opts.seed).permutation(len(photos))[: opts.limit])
        )
    arrays = photo_arrays(photos, clf.contract)
    if not len(arrays):
        raise EdgeclfError(f"{opts.images}: no readable photo with a label of this model's classes")
    unread = [
        item.path.name for item, ok in zip(photos.items, arrays.readable, strict=True) if not ok
    ]
    if len(unread) > MOST_MISSING * len(photos):
        raise EdgeclfError(
            f"{len(unread)} of {len(photos)} photos could not be read (e.g. {unread[0]}): "
            "a score without them would mislead"
        )
    if unread:
        print(
            f"note: {len(unread)} unreadable photo(s) not scored: {first_few(unread)}",
            file=sys.stderr,
        )
    readable = [item for item, ok in zip(photos.items, arrays.readable, strict=True) if ok]
    rows = tuple(sorted({item.label for item in readable}))
    row_index = np.array([rows.index(item.label) for item in readable])
    sample = load_subset("test", opts.data_dir, 1).images[0]
    source = f"{opts.images} ({opts.split}, {len(readable):,} photos)"
    return BenchData(arrays.views, arrays.allowed > 0, rows, row_index, source, sample)
