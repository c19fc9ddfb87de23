"""`edgeclf train`: the recipe, checkpoints every epoch, and the artifacts a user looks at."""

from __future__ import annotations

import json
import platform
import shutil
import sys
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import numpy as np

from ..edge import __version__
from ..edge.atomic import atomic_path, write_text
from ..edge.errors import EdgeclfError, first_line
from ..edge.metrics import per_class_accuracy
from ..edge.quiet import quiet_tensorflow
from ..edge.runtime.card import training_card_path
from .fitting import HISTORY_CSV, epoch_timer_class, make_training_model, read_history
from .photo_training import photo_val_metrics, training_card
from .training_data import prepare_fashion_mnist, prepare_photo, with_label_targets

CONFIG_FILE = "config.json"
MODEL_FILE = "model.keras"
CHECKPOINT_DIR = "checkpoint"


@dataclass
class TrainConfig:
    """Everything that defines a run; saved so that `--resume` rebuilds the same run."""

    arch: str = "small"
    epochs: int = 80
    batch_size: int = 128
    seed: int = 0
    limit: int | None = None
    data_dir: str | None = None
    learning_rate: float = 3e-3
    weight_decay: float = 0.05
    warmup_epochs: int = 2
    label_smoothing: float = 0.1
    shift: float = 0.1
    erase_prob: float = 0.25
    val_size: int = 5000
    bf16: bool = False
    teacher: str | None = None
    distill_weight: float = 0.7
    # Photo models (--photos): real photos, sender-disjoint validation, rendered Fashion-MNIST.
    photos: str | None = None
    size: int = 64
    val_fraction: float = 0.15
    render_per_class: int = 700
    label_head: bool = False  # a second head on the photo folder's own labels, for training only
    # Classes of your own (--classes, --classes-from-folders): a new head on a photo model.
    classes: list[str] | None = None
    background_class: str | None = None  # the class of no-garment frames, among `classes`
    base: str | None = None
    fine_tune_epochs: int = 0
    per_class: int | None = None  # at most this many training photos per class (learning curves)

    @property
    def is_photo(self) -> bool:
        return self.photos is not None

    @classmethod
    def for_command(
        cls,
        arch: str | None,
        photos: str | None,
        classes: str | None = None,
        classes_from_folders: bool = False,
        **settings,
    ) -> TrainConfig:
        """A new run's config from the command line, its architecture and classes checked."""
        from . import own_classes
        from .architectures import ARCHITECTURES, PHOTO_ARCHITECTURES

        if photos and settings.get("teacher"):
            # Soft targets would blur the set-valued labels the photo loss relies on.
            raise EdgeclfError(
                "--teacher distils Fashion-MNIST models; it does not work with --photos"
            )
        own = bool(classes or classes_from_folders)
        if settings.get("label_head") and (not photos or own):
            raise EdgeclfError(
                "--label-head is for ten-class photo models (--photos, no --classes)"
            )
        if settings.get("label_head") is None:  # on where it applies: ten-class photo models
            settings["label_head"] = bool(photos) and not own
        if classes or classes_from_folders:
            if not photos:
                raise EdgeclfError("--classes and --classes-from-folders need --photos DIR")
            if settings.get("bf16"):
                raise EdgeclfError("--bf16 is for training from scratch, not for own classes")
            names = (
                own_classes.folder_classes(Path(photos))
                if classes_from_folders
                else [n.strip() for n in classes.split(",") if n.strip()]
            )
            own_classes.check_class_count(names, "--classes names")
            own_classes.check_background(settings.get("background_class"), names)
            settings.update(render_per_class=0)
            return cls(arch="own-classes", photos=photos, classes=names, **settings)
        if settings.get("background_class"):
            raise EdgeclfError("--background-class goes with --classes or --classes-from-folders")
        arch = arch or ("photo-medium" if photos else "small")
        known = PHOTO_ARCHITECTURES if photos else ARCHITECTURES
        if arch not in known:
            raise EdgeclfError(f"unknown --arch {arch!r}; choose from {', '.join(known)}")
        if photos and not Path(photos).is_dir():
            raise EdgeclfError(f"--photos {photos}: not a folder")
        return cls(arch=arch, photos=photos, **settings)

    @classmethod
    def load(cls, folder: Path) -> TrainConfig:
        path = folder / CONFIG_FILE
        if not path.is_file():
            raise EdgeclfError(f"cannot resume: {path} not found (not a training folder?)")
        try:
            saved = json.loads(path.read_text())
            known = {f.name for f in fields(cls)}
            return cls(**{k: v for k, v in saved.items() if k in known})
        except (OSError, UnicodeDecodeError, ValueError, TypeError, AttributeError) as exc:
            raise EdgeclfError(f"cannot resume: {path} is unreadable ({first_line(exc)})") from None


def with_softmax(core):
    """The deployable model: the core's logits followed by a softmax, so it outputs probabilities."""
    import keras

    probs = keras.layers.Softmax(name="probabilities")(core.output)
    return keras.Model(core.input, probs, name=core.name)


def float32_twin(core, arch: str):
    """The same weights in an all-float32 model: bfloat16 compute must not reach the converter.

    Mixed precision keeps the variables in float32, so the copy is exact.
    """
    import keras

    from . import architectures

    keras.mixed_precision.set_global_policy("float32")
    twin = architectures.build(arch, core.input_shape[1], core.output_shape[-1])
    twin.set_weights(core.get_weights())
    return twin


def versions() -> dict[str, str]:
    import keras

    out = {"python": platform.python_version(), "keras": keras.__version__, "edgeclf": __version__}
    out["numpy"] = np.__version__
    out["backend"] = keras.backend.backend()
    if "tensorflow" in sys.modules:
        out["tensorflow"] = sys.modules["tensorflow"].__version__
    return out


def set_determinism(seed: int) -> None:
    import keras

    keras.utils.set_random_seed(seed)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


def teacher_targets(cfg: TrainConfig, x_train: np.ndarray, y_train: np.ndarray) -> np.ndarray:
    from . import distill

    teacher_path = Path(cfg.teacher)
    distill.check_same_split(teacher_path, asdict(cfg))
    started = time.perf_counter()
    teacher = distill.load_teacher(teacher_path)
    targets = distill.soft_targets(teacher, x_train, y_train, cfg.distill_weight)
    print(
        f"Distilling from {teacher_path} ({teacher.count_params():,} params), "
        f"{cfg.distill_weight:.0%} of each target; soft targets took "
        f"{time.perf_counter() - started:.0f} s",
        flush=True,
    )
    return targets


def train(
    cfg: TrainConfig,
    out: Path,
    resume: bool = False,
    extra_callbacks=(),
    overwrite: bool = False,
) -> dict:
    """Run (or resume) a training run into `out` and write every artifact. Returns metrics.

    `extra_callbacks` run after the checkpoint and the log (tests use one to interrupt a run).
    The process-wide mixed-precision policy is put back however the run ends.
    """
    quiet_tensorflow()
    import keras

    previous = keras.mixed_precision.global_policy()
    try:
        return _train(cfg, out, resume, extra_callbacks, overwrite)
    finally:
        keras.mixed_precision.set_global_policy(previous)


def _train(cfg: TrainConfig, out: Path, resume: bool, extra_callbacks, overwrite: bool) -> dict:
    import keras

    from ..edge import plots
    from . import architectures

    EpochTimer = epoch_timer_class()

    if not resume and not overwrite and out.is_dir() and any(out.iterdir()):
        raise EdgeclfError(
            f"{out} is not empty (an earlier run?): continue it with --resume {out}, "
            "or start afresh with --overwrite"
        )
    if not resume and overwrite:
        shutil.rmtree(out / CHECKPOINT_DIR, ignore_errors=True)  # never resume a stale run
        (out / HISTORY_CSV).unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    if resume and not (out / CHECKPOINT_DIR).exists():
        raise EdgeclfError(f"cannot resume: no checkpoint in {out} (finished or never started)")
    base = None
    if cfg.classes:  # the input size is the base model's
        from .own_classes import load_base

        base = load_base(Path(cfg.base) if cfg.base else None)
        cfg = replace(cfg, size=int(base.input_shape[1]))
    write_text(out / CONFIG_FILE, json.dumps(asdict(cfg), indent=2))
    set_determinism(cfg.seed)
    keras.mixed_precision.set_global_policy("mixed_bfloat16" if cfg.bf16 else "float32")

    data = prepare_photo(cfg) if cfg.is_photo else prepare_fashion_mnist(cfg)
    x_train, y_train = data.x_train, data.y_train
    if cfg.teacher:
        y_train = teacher_targets(cfg, x_train, y_train)
    steps = int(np.ceil(len(x_train) / cfg.batch_size))

    backbone = None
    if cfg.classes:
        from .own_classes import with_new_head

        core, backbone = with_new_head(base, len(cfg.classes))
    else:
        core = architectures.build(cfg.arch, cfg.size, len(data.contract.classes))
    labels = len(data.label_names)
    train_model = make_training_model(core, cfg, steps, labels)
    y_val = with_label_targets(data.y_val, None, labels)  # validation photos carry no photo label
    callbacks = [
        keras.callbacks.BackupAndRestore(str(out / CHECKPOINT_DIR)),
        EpochTimer(),
        keras.callbacks.CSVLogger(str(out / HISTORY_CSV), append=resume),
        *extra_callbacks,
    ]
    print(
        f"Training {cfg.arch} ({core.count_params():,} params) on {len(x_train):,} images, "
        f"validating on {len(data.y_val):,}, {cfg.epochs} epochs"
        + (" (resuming)" if resume else ""),
        flush=True,
    )
    train_model.fit(
        x_train,
        y_train,
        batch_size=cfg.batch_size,
        epochs=cfg.epochs,
        validation_data=(data.x_val, y_val),
        callbacks=callbacks,
        verbose=1 if sys.stdout.isatty() else 2,
    )
    if backbone is not None and cfg.fine_tune_epochs:
        from .own_classes import fine_tune

        fine_tune(backbone, core, cfg, steps, data, out, extra_callbacks)

    if cfg.bf16:
        core = float32_twin(core, cfg.arch)
    model = with_softmax(core)
    with atomic_path(out / MODEL_FILE) as tmp:
        model.save(tmp)
    write_text(
        training_card_path(out / MODEL_FILE),
        training_card(data.contract, cfg, data.seen).to_json(),
    )

    probs = model.predict(data.x_test, batch_size=256, verbose=0)
    test_labels = data.y_test.argmax(axis=1)
    predicted = probs.argmax(axis=1)
    history = read_history(out / HISTORY_CSV)
    train_seconds = sum(history.get("epoch_seconds", []))
    metrics = {
        "arch": cfg.arch,
        "params": int(core.count_params()),
        "test_accuracy": float((predicted == test_labels).mean()),
        "test_data": data.test_name,
        "val_accuracy": history["val_accuracy"][-1] if history.get("val_accuracy") else None,
        "per_class_accuracy": per_class_accuracy(
            predicted == test_labels, test_labels, data.contract.classes
        ),
        "test_images": len(test_labels),
        "train_images": len(x_train),
        "epochs": cfg.epochs + (cfg.fine_tune_epochs if cfg.classes else 0),
        "train_seconds": round(train_seconds, 1),
        "versions": versions(),
    }
    if cfg.is_photo:
        metrics["photos"] = {**data.seen, **photo_val_metrics(model, data)}
    write_text(out / "history.json", json.dumps(history, indent=2))
    write_text(out / "metrics.json", json.dumps(metrics, indent=2))
    plots.training_curves(history, out / "curves.png")
    plots.confusion_matrix(test_labels, predicted, out / "confusion.png", data.contract.classes)
    return metrics
