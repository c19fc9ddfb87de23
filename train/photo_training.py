"""What a photo model trains with: photo augmentation, the set-valued loss, and its data."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from ..edge.datasets.class_folders import few_photos_warning, split_counts
from ..edge.datasets.photo_data import (
    TEST_RENDER_PER_CLASS,
    TEST_RENDER_SEED,
    own_classes_split,
    photo_arrays,
    rendered_fashion_mnist,
    split_indices,
)
from ..edge.datasets.photoset import (
    LABELS_CSV,
    PhotoSet,
    group_split,
    label_sets,
    load_photos,
    mapping_for,
    read_items,
)
from ..edge.datasets.sittings import SittingSplit
from ..edge.errors import DataError
from ..edge.runtime.card import SENDER, ModelCard, PhotoSplit
from ..edge.runtime.classes import fold
from ..edge.runtime.contract import PHOTO, InputContract

UNSURE_LABELS = frozenset({"notsure", "skip"})  # photo labels that name nothing (folded)
LABEL_HEAD_WEIGHT = 0.5  # the label head's share of the loss, beside the classes' set loss


def make_photo_augmenter(cfg):
    """Photo-style augmentation in raw 0-255 RGB: crop/scale, flip, colour, brightness, blur."""
    import keras
    from keras import layers

    return keras.Sequential(
        [
            layers.RandomFlip("horizontal", seed=cfg.seed),
            layers.RandomZoom((-0.2, 0.1), fill_mode="reflect", seed=cfg.seed + 1),
            layers.RandomTranslation(cfg.shift, cfg.shift, fill_mode="reflect", seed=cfg.seed + 2),
            layers.RandomColorJitter(
                value_range=(0, 255),
                brightness_factor=0.2,
                contrast_factor=0.25,
                saturation_factor=(0.3, 0.7),
                hue_factor=0.05,
                seed=cfg.seed + 3,
            ),
            layers.RandomGaussianBlur(factor=0.3, kernel_size=3, sigma=1.0, seed=cfg.seed + 4),
        ],
        name="augment",
    )


def set_loss(cfg):
    """-log of the probability the model gives to the set of right classes (-log sum_{c in S} p_c),
    blended with a little uniform smoothing. One-class sets make it plain cross-entropy."""
    from keras import ops

    smoothing = cfg.label_smoothing

    def set_cross_entropy(allowed, logits):
        logits = ops.cast(logits, "float32")
        total = ops.logsumexp(logits, axis=-1)
        inside = ops.logsumexp(ops.where(allowed > 0, logits, -1e9), axis=-1)
        uniform = total - ops.mean(logits, axis=-1)
        return (1 - smoothing) * (total - inside) + smoothing * uniform

    return set_cross_entropy


def set_loss_with_label_head(cfg, classes: int):
    """The set loss on the first `classes` logits, plus cross-entropy of the photo labels on the
    rest. Targets are [allowed classes | one-hot photo label]; a view with no class (a Shorts
    photo) or no label (a rendered crop) adds nothing to the part it lacks."""
    from keras import ops

    set_cross_entropy = set_loss(cfg)

    def set_and_label_cross_entropy(targets, logits):
        logits = ops.cast(logits, "float32")
        allowed, labels = targets[:, :classes], targets[:, classes:]
        has_class = ops.any(allowed > 0, axis=-1)
        on_classes = ops.where(has_class, set_cross_entropy(allowed, logits[:, :classes]), 0.0)
        label_logits = logits[:, classes:]
        on_labels = ops.logsumexp(label_logits, axis=-1) - ops.sum(labels * label_logits, axis=-1)
        on_labels = ops.where(ops.sum(labels, axis=-1) > 0, on_labels, 0.0)
        return on_classes + LABEL_HEAD_WEIGHT * on_labels

    return set_and_label_cross_entropy


def set_accuracy_metric(classes: int | None = None):
    """Top-1 counted right when it is any member of the set (named `accuracy` for the curves);
    with a label head, over the first `classes` logits only."""
    import keras
    from keras import ops

    def set_accuracy(allowed, logits):
        if classes is not None:
            allowed, logits = allowed[:, :classes], logits[:, :classes]
        best = ops.expand_dims(ops.argmax(logits, axis=-1), -1)
        return ops.take_along_axis(allowed, best, axis=-1)[..., 0]

    return keras.metrics.MeanMetricWrapper(set_accuracy, name="accuracy")


def with_label_head(core, labels: int):
    """The core's class logits and, from the same features, logits for the photo labels: one
    output, [classes | labels]. Only `core` is saved, so the deployed model has no label head."""
    import keras
    from keras import layers

    features = core.get_layer("dropout").output
    label_logits = layers.Dense(labels, name="photo_label_logits")(features)
    both = layers.Concatenate(name="classes_and_labels")([core.output, label_logits])
    return keras.Model(core.input, both, name=f"{core.name}_with_label_head")


def training_photos_without_class(root: Path, contract: InputContract, cfg, val_set: PhotoSet):
    """The photos whose label names no class (Shorts, Hat...) but something, from senders on the
    training side of the split (and none in `val_set`): the label head learns from them too."""
    items = read_items(root).items
    train_idx, _ = group_split(np.array([i.group for i in items]), cfg.val_fraction, cfg.seed)
    mapping = mapping_for(contract.classes)
    has_class = label_sets([i.label for i in items], contract.classes, mapping).any(1)
    val_groups = set(val_set.groups.tolist())
    kept = [
        items[i]
        for i in train_idx
        if not has_class[i]
        and fold(items[i].label) not in UNSURE_LABELS
        and items[i].group not in val_groups
    ]
    no_classes = np.zeros((len(kept), len(contract.classes)), bool)
    return PhotoSet(root, kept, contract.classes, no_classes)


def label_indices(photos: PhotoSet, names: tuple[str, ...]) -> np.ndarray:
    return np.array([names.index(item.label) for item in photos.items], np.int64)


def photo_contract(cfg, classes: tuple[str, ...]) -> InputContract:
    return InputContract(PHOTO, cfg.size, 3, classes, cfg.background_class)


def prepare_photo_data(cfg, contract: InputContract):
    """(train, val, test) PhotoArrays and what the run saw, for the log and the card."""
    from rich.progress import Progress

    root = Path(cfg.photos)
    method = split_method(cfg)
    photos = load_photos(root, contract.classes, mapping_for(contract.classes))
    if photos.missing:  # a model is trained on the data it was given, or not at all
        raise DataError(
            f"{len(photos.missing)} image(s) named in {root / LABELS_CSV} are not in "
            f"{photos.missing[0].parent}/ (looked for {photos.missing[0].name}): copy them, or "
            "remove their rows"
        )
    photos.print_notes()
    train_idx, val_idx, sittings = split_indices(photos, cfg.val_fraction, cfg.seed, method)
    train_set, val_set = photos.subset(train_idx), photos.subset(val_idx)
    if cfg.per_class:
        train_set = at_most_per_class(train_set, cfg.per_class, cfg.seed)
    counts = check_classes(train_set, val_set, own=bool(cfg.classes), sittings=sittings)
    if not len(val_set):
        raise DataError(f"{root}: too few senders for a validation split of {cfg.val_fraction}")
    extra_set = (
        training_photos_without_class(root, contract, cfg, val_set) if cfg.label_head else None
    )
    sets = [train_set, val_set, *([extra_set] if extra_set is not None else [])]
    with Progress(transient=True) as progress:
        task = progress.add_task("reading photos", total=sum(map(len, sets)))
        advance = lambda n: progress.advance(task, n)  # noqa: E731
        arrays = [photo_arrays(photos, contract, advance) for photos in sets]
    for arrays_read, photos in zip(arrays, sets, strict=True):
        bad = [i.path for i, ok in zip(photos.items, arrays_read.readable, strict=True) if not ok]
        if bad:  # before any training: a broken file is a mistake to fix, not a photo to skip
            raise DataError(f"{len(bad)} unreadable image(s), e.g. {bad[0]}; fix or remove them")
    train, val = arrays[0], arrays[1]
    label_names: tuple[str, ...] = ()
    if extra_set is not None:
        label_names = tuple(sorted({i.label for i in train_set.items + extra_set.items}))
        train.labels = label_indices(train_set, label_names)
        extra = arrays[2]
        extra.labels = label_indices(extra_set, label_names)
        train = train + extra
    real_views = len(train)
    if cfg.render_per_class:
        train = train + rendered_fashion_mnist(
            "train", cfg.render_per_class, contract, cfg.seed, cfg.data_dir
        )
    test = (
        val
        if cfg.classes
        else rendered_fashion_mnist(
            "test", TEST_RENDER_PER_CLASS, contract, TEST_RENDER_SEED, cfg.data_dir
        )
    )
    seen = {
        "class_counts": counts,
        "photos": str(root),
        "train_photos": len(train_set),
        "val_photos": len(val_set),
        "val_senders": len(set(val_set.groups.tolist())),
        "rendered_fashion_mnist": len(train) - real_views,
        "skipped_labels": dict(train_set.skipped.most_common()),
    }
    if label_names:
        seen["label_head"] = {"labels": list(label_names), "photos_without_class": len(extra_set)}
    return train, val, test, seen


def at_most_per_class(photos: PhotoSet, limit: int, seed: int) -> PhotoSet:
    """A random `limit` photos of each class (by the first class a photo's label allows)."""
    rng = np.random.default_rng(seed)
    first = photos.allowed.argmax(1)
    keep = [rng.permutation(np.flatnonzero(first == c))[:limit] for c in range(len(photos.classes))]
    return photos.subset(np.sort(np.concatenate(keep)))


def split_method(cfg) -> str:
    """Own classes split as `teach` splits them; the ten classes by sender."""
    return own_classes_split(Path(cfg.photos)) if cfg.classes else SENDER


def check_classes(
    train_set: PhotoSet, val_set: PhotoSet, own: bool, sittings: SittingSplit | None = None
) -> dict[str, int]:
    """Photos per class, said aloud (training + validation). For own classes an empty class,
    or one with no training photo, is an error and a thin one a warning; Fashion-MNIST classes
    without photos (bags) come from the rendered crops."""
    trains, vals = train_set.allowed.sum(0), val_set.allowed.sum(0)
    per_class = {name: int(n) for name, n in zip(train_set.classes, trains + vals, strict=True)}
    if not own:
        return per_class
    empty = [name for name, n in per_class.items() if n == 0]
    if empty:
        raise DataError(f"no photos for class(es) {', '.join(empty)}")
    starved = [name for name, n in zip(train_set.classes, trains, strict=True) if n == 0]
    if starved:
        raise DataError(f"no training photo for {', '.join(starved)}: every one went to validation")
    print(split_counts(list(per_class), trains, vals), flush=True)
    if sittings:
        print("\n".join(sittings.reasons()), flush=True)
    for line in (sittings.note() if sittings else None, few_photos_warning(per_class)):
        if line:
            print(line, file=sys.stderr)
    return per_class


def photo_val_metrics(probs: np.ndarray, y_val: np.ndarray) -> dict:
    """Real-photo validation: lenient (any class of the set) and strict (one-class labels only)."""
    from ..edge.datasets.photoset import set_correct

    right = set_correct(probs, y_val > 0)
    single = y_val.sum(1) == 1
    return {
        "val_lenient_accuracy": float(right.mean()),
        "val_strict_accuracy": float(right[single].mean()) if single.any() else None,
        "val_strict_images": int(single.sum()),
    }


def training_card(contract: InputContract, cfg, seen: dict) -> ModelCard:
    """What `convert` needs beside the Keras model: classes, input contract, validation data."""
    if not cfg.is_photo:
        return ModelCard(contract)
    mapping = "fashion-mnist" if mapping_for(contract.classes) else None
    return ModelCard(
        contract,
        validation=PhotoSplit(
            seen["photos"], cfg.val_fraction, cfg.seed, mapping, split_method(cfg)
        ),
        class_counts=seen["class_counts"],
        calibration={"render_per_class": cfg.render_per_class},
    )
