"""`edgeclf train`: the recipe, checkpoints every epoch, and the artifacts a user looks at."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from ..edge import __version__
from ..edge.atomic import atomic_path, write_text
from ..edge.classes import CLASS_NAMES, NUM_CLASSES
from ..edge.dataset import balanced_subset, load_split
from ..edge.errors import EdgeclfError

CONFIG_FILE = "config.json"
MODEL_FILE = "model.keras"
CHECKPOINT_DIR = "checkpoint"
HISTORY_CSV = "history.csv"


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

    @classmethod
    def load(cls, folder: Path) -> TrainConfig:
        path = folder / CONFIG_FILE
        if not path.is_file():
            raise EdgeclfError(f"cannot resume: {path} not found (not a training folder?)")
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in json.loads(path.read_text()).items() if k in known})


def split_validation(labels: np.ndarray, val_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Class-balanced validation indices taken from train (never test), and the rest."""
    val = balanced_subset(labels, val_size, seed)
    train = np.setdiff1d(np.arange(len(labels)), val)
    return train, val


def make_augmenter(cfg: TrainConfig):
    """On-the-fly augmentation in raw 0-255 pixel space: flip, shift, random erasing."""
    import keras
    from keras import layers

    steps = [
        layers.RandomFlip("horizontal", seed=cfg.seed),
        layers.RandomTranslation(cfg.shift, cfg.shift, fill_mode="constant", seed=cfg.seed + 1),
    ]
    if cfg.erase_prob:
        steps.append(
            layers.RandomErasing(
                factor=cfg.erase_prob, scale=(0.02, 0.2), fill_value=0.0, seed=cfg.seed + 2
            )
        )
    return keras.Sequential(steps, name="augment")


def make_training_model(core, cfg: TrainConfig, steps_per_epoch: int):
    """Wrap the core model with augmentation and compile it with AdamW + warm-up cosine."""
    import keras

    inputs = keras.Input(core.input_shape[1:], dtype="float32")
    train_model = keras.Model(inputs, core(make_augmenter(cfg)(inputs)), name="trainer")
    total = max(1, cfg.epochs * steps_per_epoch)
    warmup = min(cfg.warmup_epochs * steps_per_epoch, total // 2)
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=cfg.learning_rate / 10,
        decay_steps=total - warmup,
        warmup_target=cfg.learning_rate,
        warmup_steps=warmup,
        alpha=1e-3,
    )
    train_model.compile(
        optimizer=keras.optimizers.AdamW(schedule, weight_decay=cfg.weight_decay),
        loss=keras.losses.CategoricalCrossentropy(
            from_logits=True, label_smoothing=cfg.label_smoothing
        ),
        metrics=["accuracy"],
    )
    return train_model


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
    twin = architectures.build(arch)
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


def as_input(images: np.ndarray) -> np.ndarray:
    """uint8 (N, 28, 28) -> the model's float32 (N, 28, 28, 1) raw-pixel input."""
    return images[..., None].astype("float32")


def prepare_data(cfg: TrainConfig):
    """Train/validation arrays (validation taken from train, class-balanced) and the test split."""
    import keras

    train_split = load_split("train", cfg.data_dir)
    test_split = load_split("test", cfg.data_dir)
    x_all, y_all = train_split.images, train_split.labels
    if cfg.limit:
        keep = balanced_subset(y_all, cfg.limit, cfg.seed)
        x_all, y_all = x_all[keep], y_all[keep]
    val_size = min(cfg.val_size, max(NUM_CLASSES, len(y_all) // 10))
    train_idx, val_idx = split_validation(y_all, val_size, cfg.seed)

    def pair(idx: np.ndarray):
        return as_input(x_all[idx]), keras.utils.to_categorical(y_all[idx], NUM_CLASSES)

    return pair(train_idx), pair(val_idx), test_split


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


def _epoch_timer_class():
    import keras

    class EpochTimer(keras.callbacks.Callback):
        """Adds `epoch_seconds` to the logs (before CSVLogger), so resumed runs sum honestly."""

        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            if logs is not None:
                logs["epoch_seconds"] = time.perf_counter() - self.started

    return EpochTimer


def train(cfg: TrainConfig, out: Path, resume: bool = False, extra_callbacks=()) -> dict:
    """Run (or resume) a training run into `out` and write every artifact. Returns metrics.

    `extra_callbacks` run after the checkpoint and the log (tests use one to interrupt a run).
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    from ..edge import plots
    from . import architectures

    EpochTimer = _epoch_timer_class()

    out.mkdir(parents=True, exist_ok=True)
    if resume and not (out / CHECKPOINT_DIR).exists():
        raise EdgeclfError(f"cannot resume: no checkpoint in {out} (finished or never started)")
    write_text(out / CONFIG_FILE, json.dumps(asdict(cfg), indent=2))
    set_determinism(cfg.seed)
    keras.mixed_precision.set_global_policy("mixed_bfloat16" if cfg.bf16 else "float32")

    (x_train, y_train), (x_val, y_val), test_split = prepare_data(cfg)
    if cfg.teacher:
        y_train = teacher_targets(cfg, x_train, y_train)
    steps = int(np.ceil(len(x_train) / cfg.batch_size))

    core = architectures.build(cfg.arch)
    train_model = make_training_model(core, cfg, steps)
    callbacks = [
        keras.callbacks.BackupAndRestore(str(out / CHECKPOINT_DIR)),
        EpochTimer(),
        keras.callbacks.CSVLogger(str(out / HISTORY_CSV), append=resume),
        *extra_callbacks,
    ]
    print(
        f"Training {cfg.arch} ({core.count_params():,} params) on {len(x_train):,} images, "
        f"validating on {len(x_val):,}, {cfg.epochs} epochs" + (" (resuming)" if resume else ""),
        flush=True,
    )
    train_model.fit(
        x_train,
        y_train,
        batch_size=cfg.batch_size,
        epochs=cfg.epochs,
        validation_data=(x_val, y_val),
        callbacks=callbacks,
        verbose=1 if sys.stdout.isatty() else 2,
    )

    if cfg.bf16:
        core = float32_twin(core, cfg.arch)
    model = with_softmax(core)
    with atomic_path(out / MODEL_FILE) as tmp:
        model.save(tmp)

    probs = model.predict(as_input(test_split.images), batch_size=1024, verbose=0)
    predicted = probs.argmax(axis=1)
    history = read_history(out / HISTORY_CSV)
    train_seconds = sum(history.get("epoch_seconds", []))
    metrics = {
        "arch": cfg.arch,
        "params": int(core.count_params()),
        "test_accuracy": float((predicted == test_split.labels).mean()),
        "val_accuracy": history["val_accuracy"][-1] if history.get("val_accuracy") else None,
        "per_class_accuracy": per_class_accuracy(test_split.labels, predicted),
        "test_images": len(test_split),
        "train_images": len(x_train),
        "epochs": cfg.epochs,
        "train_seconds": round(train_seconds, 1),
        "versions": versions(),
    }
    write_text(out / "history.json", json.dumps(history, indent=2))
    write_text(out / "metrics.json", json.dumps(metrics, indent=2))
    plots.training_curves(history, out / "curves.png")
    plots.confusion_matrix(test_split.labels, predicted, out / "confusion.png")
    return metrics


def per_class_accuracy(labels: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    return {
        name: float((predicted[labels == i] == i).mean()) if (labels == i).any() else float("nan")
        for i, name in enumerate(CLASS_NAMES)
    }


def read_history(csv_path: Path) -> dict[str, list[float]]:
    """The per-epoch log across resumes (CSVLogger appends), as columns."""
    import csv

    if not csv_path.is_file():
        return {}
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    seen: dict[int, dict] = {int(r["epoch"]): r for r in rows}  # a resumed epoch replaces its twin
    ordered = [seen[e] for e in sorted(seen)]
    return {key: [float(r[key]) for r in ordered] for key in (ordered[0] if ordered else {})}
