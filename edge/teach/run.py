"""`edgeclf teach`: learn classes of your own on the device, in seconds, without TensorFlow.

The photos' features come from the base photo model's own int8 graph; a softmax-regression head is
fitted on them in NumPy, quantized, and written into a copy of the base in place of its last
layer. The result is one standard int8 `.tflite` with its card, checked against the float head.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..atomic import write_bytes, write_text
from ..datasets.class_folders import (
    MIN_CLASSES,
    check_background,
    check_class_count,
    class_folders,
    few_photos_warning,
    split_counts,
)
from ..datasets.photo_data import own_classes_split, split_indices
from ..datasets.photoset import PhotoSet, check_labels, load_photos
from ..datasets.sittings import SittingSplit
from ..errors import EdgeclfError, ModelError
from ..runtime.card import ModelCard, PhotoSplit, card_path, card_sidecar, check_model_output
from ..runtime.classes import parse_classes
from ..runtime.classifier import DEFAULT_MODEL, Classifier
from ..runtime.contract import PHOTO, InputContract
from ..runtime.model_file import dense_weights, quantize_head, schema, with_head
from . import head as heads
from .bank import FeatureBank, bank_path, load_bank
from .features import FeatureReader


class TeachOptions(NamedTuple):
    folder: Path
    out: Path
    base: Path | None = None
    classes: str | None = None  # with labels.csv; class folders name themselves
    background_class: str | None = None
    val_fraction: float = 0.15
    seed: int = 0
    backend: str | None = None
    threads: int | None = None
    per_class: int | None = None  # at most this many training photos per class (curves)
    keep_classes: bool = False  # the base's classes stay, the new ones are added after them


class ClassResult(NamedTuple):
    name: str
    train: int
    val: int
    val_accuracy: float | None  # the int8 model's, on this class's validation photos
    kept: bool = False  # a base class kept by --keep-classes (train: its photos in the bank)


class TeachResult(NamedTuple):
    """What `teach` learned and how well it checks out."""

    out: Path
    classes: tuple[ClassResult, ...]
    float_accuracy: float | None
    int8_accuracy: float | None
    agreement: float | None
    l2: float
    photos: int
    unreadable: tuple[str, ...]
    cached: int
    seconds: float
    split: str
    optimistic: tuple[str, ...]

    @property
    def drop_points(self) -> float | None:
        if self.float_accuracy is None or self.int8_accuracy is None:
            return None
        return round(100 * (self.float_accuracy - self.int8_accuracy), 3)


def class_names(opts: TeachOptions) -> list[str]:
    """The classes: `--classes` (labels.csv folders), else the class folders, checked once. One
    is enough beside a base's own (`--keep-classes`)."""
    folder = opts.folder
    minimum = 1 if opts.keep_classes else MIN_CLASSES
    if opts.classes:
        if not folder.is_dir():
            raise EdgeclfError(f"{folder}: not a folder")
        names = list(parse_classes(opts.classes))
        check_labels(folder, names)
        check_class_count(names, "--classes names", minimum)
    elif (folder / "labels.csv").is_file():
        raise EdgeclfError(f"{folder} has a labels.csv: name the classes to learn with --classes")
    else:
        names = class_folders(folder, minimum)
    check_background(opts.background_class, names)
    return names


def load_base(opts: TeachOptions) -> Classifier:
    base = Classifier(opts.base or DEFAULT_MODEL, opts.backend, opts.threads)
    if base.contract.recipe != PHOTO:
        raise ModelError(f"--base {base.path}: teach builds on a colour photo model")
    return base


def check_new_names(names: list[str], base: Classifier) -> None:
    """With --keep-classes, the folders name new classes only."""
    kept = {name.casefold() for name in base.contract.classes}
    again = [name for name in names if name.casefold() in kept]
    if again:
        raise EdgeclfError(
            f"{', '.join(again)}: already a class of {base.path.name}; with --keep-classes, "
            "collect only classes it does not have"
        )


def check_split(photos: PhotoSet, train: np.ndarray) -> None:
    """Refuse a class with no training photo, before any work."""
    labels = photos.allowed.argmax(1)
    counts = np.bincount(labels[train], minlength=len(photos.classes))
    empty = [name for name, n in zip(photos.classes, counts, strict=True) if n == 0]
    if empty:
        raise EdgeclfError(
            f"no training photo for {', '.join(empty)} (every photo went to validation): "
            "collect more of it, or in another sitting"
        )


def teach(opts: TeachOptions, progress: Callable[[int, int], None] | None = None) -> TeachResult:
    """The whole run; `progress(done, total)` is told as features are read."""
    started = time.perf_counter()
    names = class_names(opts)
    base = load_base(opts)
    out = opts.out
    photos = load_photos(opts.folder, names, None)
    check_model_output(out, inputs=teach_inputs(base, photos))
    schema()  # where it is missing, say so before reading any photo
    bank = None
    if opts.keep_classes:
        check_new_names(names, base)
        bank = load_bank(base)
    photos.print_notes()
    method = own_classes_split(opts.folder)
    train_idx, val_idx, split = split_indices(photos, opts.val_fraction, opts.seed, method)
    check_split(photos, train_idx)
    labels = photos.allowed.argmax(1)
    if opts.per_class:
        train_idx = at_most_per_class(train_idx, labels, opts.per_class, opts.seed)
    print_split(names, labels, train_idx, val_idx, split, opts.val_fraction)

    reader = FeatureReader(base)
    paths = [item.path for item in photos.items]
    features, readable, unreadable = reader.read_all(paths, progress)
    train_idx, val_idx = train_idx[readable[train_idx]], val_idx[readable[val_idx]]
    check_split(photos, train_idx)

    # Train on each photo and its mirror; validate on the photos as they are.
    train_x = features[train_idx].reshape(-1, reader.width)
    train_y = np.repeat(labels[train_idx], 2)
    val_x, val_y = features[val_idx, 0], labels[val_idx]
    if bank is None:
        head = heads.fit_tuned(train_x, train_y, val_x, val_y, len(names))
        seen, kept = train_x, ()
    else:
        head = keeping_head(base, bank, train_x, train_y, len(names))
        seen, kept = np.concatenate([bank.features, train_x]), base.contract.classes
    int8 = quantize_head(head.weights, head.bias, reader.scale, head.logits(seen))
    model_bytes = with_head(base.content, int8)

    labels, val_y = labels + len(kept), val_y + len(kept)  # new classes come after kept ones
    float_top = head.logits(val_x).argmax(axis=1)
    contract = base.contract._replace(classes=(*kept, *names), background=opts.background_class)
    check = verify(model_bytes, base, contract, float_top, photos, val_idx, val_y)
    per_class = tuple(
        ClassResult(name, bank.per_class.get(name, 0), 0, None, kept=True) for name in kept
    ) + tuple(
        ClassResult(
            name,
            int((labels[train_idx] == c).sum()),
            int((val_y == c).sum()),
            float(check.right[val_y == c].mean()) if (val_y == c).any() else None,
        )
        for c, name in enumerate(names, start=len(kept))
    )
    result = TeachResult(
        out=out,
        classes=per_class,
        float_accuracy=check.float_accuracy,
        int8_accuracy=check.int8_accuracy,
        agreement=check.agreement,
        l2=head.l2,
        photos=int(readable.sum()),
        unreadable=unreadable,
        cached=int(readable.sum()) - reader.new,
        seconds=0.0,
        split=method,
        optimistic=split.optimistic if split else (),
    )
    card = teach_card(base, contract, opts, method, model_bytes, check, result)
    model_bytes, card = card.carried_by(model_bytes)  # a copy alone keeps its classes
    write_bytes(out, model_bytes)  # the model first: a stale card never vouches for a new model
    if card_sidecar(out):
        write_text(card_sidecar(out), card.to_json())
    return result._replace(seconds=round(time.perf_counter() - started, 2))


def teach_inputs(base: Classifier, photos: PhotoSet) -> list[Path]:
    """What `-o` and its card must never replace: the photos, the base, its card and its bank."""
    return [base.path, card_path(base.path), bank_path(base.path)] + [
        item.path for item in photos.items
    ]


def keeping_head(
    base: Classifier, bank: FeatureBank, train_x: np.ndarray, train_y: np.ndarray, classes: int
) -> heads.SoftmaxHead:
    """The base's own last layer, with rows for the new classes fitted against its bank."""
    weights, bias = dense_weights(base.content)
    kept = heads.SoftmaxHead(weights, bias, heads.DEFAULT_L2)
    return heads.fit_keeping(kept, bank.features, train_x, train_y, classes)


def at_most_per_class(train_idx: np.ndarray, labels: np.ndarray, limit: int, seed: int):
    """A random `limit` of each class's training photos."""
    rng = np.random.default_rng(seed)
    keep = [rng.permutation(train_idx[labels[train_idx] == c])[:limit] for c in np.unique(labels)]
    return np.sort(np.concatenate(keep))


class Check(NamedTuple):
    right: np.ndarray  # the int8 model right, per validation photo
    float_accuracy: float | None
    int8_accuracy: float | None
    agreement: float | None
    tensors: dict  # the new model's input and output, for its card


def verify(
    model_bytes: bytes,
    base: Classifier,
    contract: InputContract,
    float_top: np.ndarray,
    photos: PhotoSet,
    val_idx: np.ndarray,
    val_y: np.ndarray,
) -> Check:
    """The new int8 model, loaded and run whole on the validation photos, against the float
    head on the same photos' features."""
    import tempfile

    from ..images import read_image

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "candidate.tflite"
        path.write_bytes(model_bytes)
        card = ModelCard(contract, output_kind="probabilities")  # written once this checks out
        model = Classifier(path, base.backend.name, base.threads, card=card)
        tensors = {"input": model.input.to_dict(), "output": model.output.to_dict()}
        if not len(val_idx):
            return Check(np.zeros(0, bool), None, None, None, tensors)
        views = [model.view(read_image(photos.items[i].path)) for i in val_idx]
        int8_top = np.array([model.predict(v)[0].argmax() for v in views])
    right = int8_top == val_y
    return Check(
        right,
        float((float_top == val_y).mean()),
        float(right.mean()),
        float((float_top == int8_top).mean()),
        tensors,
    )


def teach_card(
    base: Classifier,
    contract: InputContract,
    opts: TeachOptions,
    method: str,
    model_bytes: bytes,
    check: Check,
    result: TeachResult,
) -> ModelCard:
    """The new model's card: its classes, the base's recipe, the split and what was checked."""
    from .. import __version__

    kept = [c.name for c in result.classes if c.kept]
    card = ModelCard(
        contract,
        validation=PhotoSplit(str(opts.folder), opts.val_fraction, opts.seed, None, method),
        class_counts={c.name: c.train for c in result.classes if not c.kept},
    )
    accuracy = {
        "split": f"validation photos ({method} split)" + (" of the new classes" if kept else ""),
        "images": sum(c.val for c in result.classes),
        "float_accuracy": result.float_accuracy,
        "tflite_accuracy": result.int8_accuracy,
        "drop_points": result.drop_points,
        "agreement": result.agreement,
    }
    return card.converted(
        opts.out.name,
        model_bytes,
        check.tensors["output"],
        "probabilities",
        input=check.tensors["input"],
        quantization={
            "mode": "int8",
            "io": "int8",
            "per_channel_weights": True,
            "head": f"softmax regression in NumPy (L2 {result.l2:g}), on {base.path.name}'s features"
            + (f"; its {len(kept)} classes kept as they were" if kept else ""),
        },
        accuracy=accuracy,
        also_verified=[],
        source_model=base.path.name,
        created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        versions={"edgeclf": __version__, "numpy": np.__version__},
    )


def print_split(
    names, labels, train_idx, val_idx, split: SittingSplit | None, val_fraction
) -> None:
    trains = [int((labels[train_idx] == c).sum()) for c in range(len(names))]
    vals = [int((labels[val_idx] == c).sum()) for c in range(len(names))]
    print(split_counts(names, trains, vals), flush=True)
    if split:
        print("\n".join(split.reasons()), flush=True)
    notes = (
        split.note() if split else None,
        few_photos_warning(dict(zip(names, trains, strict=True)), "training photos", val_fraction),
    )
    for line in notes:
        if line:
            print(line, file=sys.stderr)
