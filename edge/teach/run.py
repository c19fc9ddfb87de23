"""`edgeclf teach`: learn classes of your own on the device, in seconds, without TensorFlow.

The photos' features come from the base photo model's own int8 graph; a softmax-regression head is
fitted on them in NumPy, quantized, and written into a copy of the base in place of its last
layer. The result is one standard int8 `.tflite` with its card, checked against the float head.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
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
)
from ..datasets.photo_data import own_classes_split, split_indices
from ..datasets.photoset import PhotoSet, check_labels, load_photos
from ..datasets.sittings import SittingSplit
from ..errors import EdgeclfError, InputImageError, ModelError
from ..runtime.card import ModelCard, PhotoSplit, card_path, card_sidecar, check_model_output
from ..runtime.classes import did_you_mean, near_copy, parse_classes
from ..runtime.classifier import DEFAULT_MODEL, Classifier
from ..runtime.contract import PHOTO, InputContract
from ..tflite.model_file import dense_weights, quantize_head, schema, with_head
from . import head as heads
from .bank import FeatureBank, bank_path, load_bank
from .features import FeatureReader

Progress = Callable[[str, int, int], None]  # (stage, done, total): "reading photos", ...


@dataclass(frozen=True, kw_only=True)
class TeachOptions:
    """What to teach, built by keyword: `TeachOptions(folder=..., out=..., keep_classes=True)`."""

    folder: Path
    out: Path  # where the caller writes the model: checked before any work, named in the card
    base: Path | str | None = None  # a file, or a tier: "fast", "accurate"
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
    why: str = ""  # how its photos were split
    taken_for: str = ""  # the class its held-out photos were most often answered as, when wrong
    taken: int = 0  # how many of them


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
    notes: tuple[str, ...] = ()  # "note: ..." and "warning: ..." lines, for the user to read

    @property
    def drop_points(self) -> float | None:
        """int8 minus float, in points: negative where int8 lost accuracy."""
        if self.float_accuracy is None or self.int8_accuracy is None:
            return None
        return round(100 * (self.int8_accuracy - self.float_accuracy), 3)

    @property
    def new_classes(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.classes if not c.kept)


class Taught(NamedTuple):
    """A taught model as data: its bytes (card inside), its card, and what happened."""

    model: bytes
    card: ModelCard
    result: TeachResult


def save(taught: Taught, out: Path) -> tuple[Path, ...]:
    """Write the model, then its card beside it (none beside a stream): what the CLI and the
    live Learner call. The model first: a stale card never vouches for a new model."""
    write_bytes(out, taught.model)
    sidecar = card_sidecar(out)
    if sidecar is None:
        return (out,)
    write_text(sidecar, taught.card.to_json())
    return out, sidecar


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
    """With --keep-classes, the folders name new classes only: a near-copy of a base class
    (`t-shirt`, `trousers`, `Ankle  boot`) would split one garment in two."""
    for name in names:
        same = near_copy(name, base.contract.classes)
        if same:
            raise EdgeclfError(
                f"{name}: already a class of {base.path.name} ({same}); with --keep-classes, "
                "collect only classes it does not have"
            )


def name_notes(names: list[str], counts: np.ndarray) -> list[str]:
    """'new class 'hta' (did you mean 'hat'?)' for a name one typo from another, once a pair:
    the one with fewer photos is taken for the typo (on a tie, the later name)."""
    notes, said = [], set()
    for i, name in enumerate(names):
        near = did_you_mean(name, names)
        if near is None or frozenset((near, name)) in said:
            continue
        said.add(frozenset((near, name)))
        j = names.index(near)
        if counts[i] != counts[j]:
            typo, meant = (name, near) if counts[i] < counts[j] else (near, name)
        else:
            typo, meant = max(name, near), min(name, near)
        notes.append(f"warning: new class {typo!r} (did you mean {meant!r}?)")
    return notes


def check_photos_per_class(labels: np.ndarray, names: list[str], unreadable: dict) -> None:
    """Each class has a readable photo (`labels`: the readable ones'), or a one-line reason
    naming the folder and a file."""
    counts = np.bincount(labels, minlength=len(names))
    problems = []
    for c, name in enumerate(names):
        bad = unreadable.get(c, [])
        if counts[c] == 0 and not bad:
            problems.append(f"{name}/ is empty")
        elif counts[c] == 0:
            problems.append(f"{name}: no readable photo ({len(bad)} unreadable, e.g. {bad[0]})")
    if problems:
        raise EdgeclfError("; ".join(problems) + ": collect photos of it, or remove the folder")


def teach(opts: TeachOptions, progress: Progress | None = None) -> Taught:
    """The whole run, as data: `progress(stage, done, total)` is told as photos are read, as
    the head is fitted and as the int8 model is checked. Nothing is written."""
    started = time.perf_counter()
    names = class_names(opts)
    base = load_base(opts)
    if opts.keep_classes:
        check_new_names(names, base)
    photos = load_photos(opts.folder, names, None)
    check_model_output(opts.out, inputs=teach_inputs(base, photos))
    schema()  # where it is missing, say so before reading any photo
    bank = load_bank(base) if opts.keep_classes else None
    labels = photos.allowed.argmax(1)
    notes = [f"note: {line}" for line in photos.notes]
    notes += name_notes(names, np.bincount(labels, minlength=len(names)))

    reader = FeatureReader(base)
    table = reader.read_all(
        [item.path for item in photos.items],
        (lambda done, total: progress("reading photos", done, total)) if progress else None,
    )
    notes += [f"note: {line}" for line in table.notes]
    unreadable_by_class: dict[int, list[str]] = {}
    for i, line in zip(np.flatnonzero(~table.readable), table.unreadable, strict=True):
        unreadable_by_class.setdefault(int(labels[i]), []).append(line)
    readable = photos.subset(table.readable)
    check_photos_per_class(labels[table.readable], names, unreadable_by_class)
    if table.unreadable:
        notes.append(
            f"warning: skipped {len(table.unreadable)} unreadable photo(s), e.g. {table.unreadable[0]}"
        )
    features = table.features[table.readable]
    photos, labels = readable, labels[table.readable]

    method = own_classes_split(opts.folder)
    train_idx, val_idx, split = split_indices(photos, opts.val_fraction, opts.seed, method)
    if opts.per_class:
        train_idx = at_most_per_class(train_idx, labels, opts.per_class, opts.seed)
    notes += split_notes(names, labels, train_idx, split, opts.val_fraction)

    # Train on each photo and its mirror; validate on the photos as they are.
    train_x = features[train_idx].reshape(-1, reader.width)
    train_y = np.repeat(labels[train_idx], 2)
    val_x, val_y = features[val_idx, 0], labels[val_idx]
    fitting = (lambda done, total: progress("fitting", done, total)) if progress else None
    if bank is None:
        head = heads.fit_tuned(train_x, train_y, val_x, val_y, len(names), fitting)
        seen, kept = train_x, ()
    else:
        head = keeping_head(base, bank, train_x, train_y, len(names), fitting)
        seen, kept = np.concatenate([bank.features, train_x]), base.contract.classes
    int8 = quantize_head(head.weights, head.bias, reader.scale, head.logits(seen))
    model_bytes = with_head(base.content, int8)

    labels, val_y = labels + len(kept), val_y + len(kept)  # new classes come after kept ones
    float_top = head.logits(val_x).argmax(axis=1)
    contract = base.contract._replace(classes=(*kept, *names), background=opts.background_class)
    check = verify(model_bytes, base, contract, float_top, photos, val_idx, val_y, progress)
    notes += [f"warning: {line}" for line in check.notes]
    why = {c.name: c.why for c in split.classes} if split else {}
    val_y = val_y[check.checked]
    right = check.top == val_y
    mistaken = most_taken_for(check.top, val_y, (*kept, *names))
    per_class = tuple(
        ClassResult(name, bank.per_class.get(name, 0), 0, None, kept=True) for name in kept
    ) + tuple(
        ClassResult(
            name,
            int((labels[train_idx] == c).sum()),
            int((val_y == c).sum()),
            float(right[val_y == c].mean()) if (val_y == c).any() else None,
            why=why.get(name, ""),
            **mistaken.get(c, {}),
        )
        for c, name in enumerate(names, start=len(kept))
    )
    result = TeachResult(
        out=opts.out,
        classes=per_class,
        float_accuracy=check.float_accuracy,
        int8_accuracy=check.int8_accuracy,
        agreement=check.agreement,
        l2=head.l2,
        photos=len(photos),
        unreadable=table.unreadable,
        cached=len(photos) + len(table.unreadable) - reader.new,
        seconds=0.0,
        split=method,
        optimistic=split.optimistic if split else (),
    )
    notes += outcome_notes(result, base.contract.classes)
    card = teach_card(base, contract, opts, method, model_bytes, check, result)
    model_bytes, card = card.carried_by(model_bytes)  # a copy alone keeps its classes
    seconds = round(time.perf_counter() - started, 2)
    return Taught(model_bytes, card, result._replace(seconds=seconds, notes=tuple(notes)))


def most_taken_for(top: np.ndarray, truth: np.ndarray, names: tuple[str, ...]) -> dict[int, dict]:
    """Per class with a wrong answer on its held-out photos, the class given most often in its
    place and how often: where a new class leaks (shorts answered as Trouser) is what to collect
    against."""
    out = {}
    for c in np.unique(truth[top != truth]):
        wrong = np.bincount(top[(truth == c) & (top != c)], minlength=len(names))
        out[int(c)] = {"taken_for": names[int(wrong.argmax())], "taken": int(wrong.max())}
    return out


def teach_inputs(base: Classifier, photos: PhotoSet) -> list[Path]:
    """What `-o` and its card must never replace: the photos, the base, its card and its bank."""
    return [base.path, card_path(base.path), bank_path(base.path)] + [
        item.path for item in photos.items
    ]


def keeping_head(
    base: Classifier,
    bank: FeatureBank,
    train_x: np.ndarray,
    train_y: np.ndarray,
    classes: int,
    progress: heads.Progress | None = None,
) -> heads.SoftmaxHead:
    """The base's own last layer, with rows for the new classes fitted against its bank."""
    weights, bias = dense_weights(base.content)
    kept = heads.SoftmaxHead(weights, bias, heads.DEFAULT_L2)
    return heads.fit_keeping(kept, bank.features, train_x, train_y, classes, progress=progress)


def at_most_per_class(train_idx: np.ndarray, labels: np.ndarray, limit: int, seed: int):
    """A random `limit` of each class's training photos."""
    rng = np.random.default_rng(seed)
    keep = [rng.permutation(train_idx[labels[train_idx] == c])[:limit] for c in np.unique(labels)]
    return np.sort(np.concatenate(keep))


class Check(NamedTuple):
    top: np.ndarray  # the int8 model's answer, per validation photo it could check
    checked: np.ndarray  # per validation photo: still there to check (not deleted meanwhile)
    float_accuracy: float | None
    int8_accuracy: float | None
    agreement: float | None
    tensors: dict  # the new model's input and output, for its card
    notes: tuple[str, ...] = ()


def verify(
    model_bytes: bytes,
    base: Classifier,
    contract: InputContract,
    float_top: np.ndarray,
    photos: PhotoSet,
    val_idx: np.ndarray,
    val_y: np.ndarray,
    progress: Progress | None = None,
) -> Check:
    """The new int8 model, loaded and run whole on the validation photos, against the float
    head on the same photos' features. A photo deleted since it was read is skipped, named."""
    import tempfile

    from ..images import read_image

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "candidate.tflite"
        path.write_bytes(model_bytes)
        card = ModelCard(contract, output_kind="probabilities")  # written once this checks out
        model = Classifier(path, base.backend.name, base.threads, card=card)
        tensors = {"input": model.input.to_dict(), "output": model.output.to_dict()}
        int8_top = np.full(len(val_idx), -1)
        gone = []
        for n, i in enumerate(val_idx):
            try:
                int8_top[n] = model.predict(model.view(read_image(photos.items[i].path)))[
                    0
                ].argmax()
            except InputImageError as exc:
                gone.append(f"{photos.items[i].path}: {exc}")
            if progress:
                progress("checking the int8 model", n + 1, len(val_idx))
    checked = int8_top >= 0
    notes = (
        (
            f"{len(gone)} validation photo(s) could not be read again and were skipped, e.g. {gone[0]}",
        )
        if gone
        else ()
    )
    if not checked.any():
        return Check(np.zeros(0, int), checked, None, None, None, tensors, notes)
    float_top, int8_top, val_y = float_top[checked], int8_top[checked], val_y[checked]
    right = int8_top == val_y
    return Check(
        int8_top,
        checked,
        float((float_top == val_y).mean()),
        float(right.mean()),
        float((float_top == int8_top).mean()),
        tensors,
        notes,
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


def split_notes(
    names: list[str],
    labels: np.ndarray,
    train_idx: np.ndarray,
    split: SittingSplit | None,
    val_fraction: float,
) -> list[str]:
    """The split's caveats: optimistic validation, and classes with few training photos (with
    how many to collect, given the hold-out)."""
    trains = {name: int((labels[train_idx] == c).sum()) for c, name in enumerate(names)}
    lines = (
        split.note() if split else None,
        few_photos_warning(trains, "training photos", val_fraction),
    )
    return [line for line in lines if line]


CHANCE_FACTOR = 1.5  # validation under this many times chance: the model learned little


def outcome_notes(result: TeachResult, base_classes: tuple[str, ...]) -> list[str]:
    """The lines that keep a passing check from reading as a good model, and what the new model
    no longer knows."""
    out = []
    new = result.new_classes
    chance = 1 / len(result.classes)
    if result.int8_accuracy is not None and result.int8_accuracy < CHANCE_FACTOR * chance:
        out.append(
            f"warning: validation accuracy {result.int8_accuracy:.0%} is near chance "
            f"({chance:.0%}): the classes may look alike to the model; collect more varied photos"
        )
    unvalidated = [c.name for c in result.classes if not c.val and not c.kept]
    if unvalidated:
        out.append(
            f"warning: no validation photo for {', '.join(unvalidated)}: its accuracy is unknown "
            "(collect more, or in a second sitting)"
        )
    if len(new) == len(result.classes):
        out.append(
            f"note: this model knows only {', '.join(new)}; add --keep-classes to keep the base's "
            f"{len(base_classes)} ({', '.join(base_classes[:3])}, ...)"
        )
    return out
