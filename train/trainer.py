"""`edgeclf train`: the thin runner. It owns the run folder, one checkpoint per phase, the log
and the artifacts a user looks at; the recipe (recipes.py) says what is trained and how."""

from __future__ import annotations

import platform
import shutil
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..edge import __version__
from ..edge.atomic import atomic_path, write_text
from ..edge.errors import EdgeclfError
from ..edge.metrics import per_class_accuracy
from ..edge.quiet import quiet_tensorflow
from ..edge.runtime.card import training_card_path
from .configs import CONFIG_FILE, RunConfig
from .fitting import HISTORY_CSV, epoch_timer_class, make_training_model, read_history
from .photo_training import photo_val_metrics, training_card
from .recipes import Phase, Recipe, recipe_for
from .training_data import TrainingData, with_label_targets

MODEL_FILE = "model.keras"
CURVES_PNG = "curves.png"
CONFUSION_PNG = "confusion.png"
CHECKPOINT_DIR = "checkpoint"
MIN_STEPS = 8  # optimizer steps per epoch, at the least, for own classes


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


def train(
    cfg: RunConfig,
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


def check_folder(out: Path, resume: bool, overwrite: bool) -> None:
    """A fresh run needs an empty folder (or --overwrite); a resumed one, a checkpoint."""
    if out.exists() and not out.is_dir():
        raise EdgeclfError(f"--out {out} is a file, not a folder")
    if not resume and not overwrite and out.is_dir() and any(out.iterdir()):
        raise EdgeclfError(
            f"{out} is not empty (an earlier run?): continue it with --resume {out}, "
            "or start afresh with --overwrite"
        )
    if resume and not (out / CHECKPOINT_DIR).exists():
        raise EdgeclfError(f"cannot resume: no checkpoint in {out} (finished or never started)")


def _train(cfg: RunConfig, out: Path, resume: bool, extra_callbacks, overwrite: bool) -> dict:
    import keras

    check_folder(out, resume, overwrite)
    recipe = recipe_for(cfg)  # own classes: loads the base, whose input size the run takes
    cfg = recipe.cfg
    set_determinism(cfg.seed)
    keras.mixed_precision.set_global_policy("mixed_bfloat16" if cfg.bf16 else "float32")
    data = recipe.data()  # refusals come here, before anything is written
    core = recipe.model(data)
    if not resume and overwrite:
        shutil.rmtree(out / CHECKPOINT_DIR, ignore_errors=True)  # never resume a stale run
        (out / HISTORY_CSV).unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / CONFIG_FILE, cfg.to_json())
    batch = batch_size(cfg, len(data.x_train))
    steps = int(np.ceil(len(data.x_train) / batch))
    print(
        f"Training {cfg.arch} ({core.count_params():,} params) on {len(data.x_train):,} images, "
        f"validating on {len(data.y_val):,}: {cfg.total_epochs} epochs of {steps} steps "
        f"(batch {batch})" + (" (resuming)" if resume else ""),
        flush=True,
    )
    run_phases(recipe, core, data, out, extra_callbacks)
    if cfg.bf16:
        core = float32_twin(core, cfg.arch)
    model = with_softmax(core)
    with atomic_path(out / MODEL_FILE) as tmp:
        model.save(tmp)
    write_text(
        training_card_path(out / MODEL_FILE), training_card(data.contract, cfg, data.seen).to_json()
    )
    shutil.rmtree(out / CHECKPOINT_DIR, ignore_errors=True)  # finished: nothing left to resume
    return report(model, core, cfg, data, out)


def batch_size(cfg: RunConfig, images: int) -> int:
    """--batch-size, made smaller for a small own-class set so that each epoch still takes
    MIN_STEPS optimizer steps (60 photos at 128 would give one step an epoch)."""
    if cfg.recipe != "own-classes":
        return cfg.batch_size
    return max(1, min(cfg.batch_size, int(np.ceil(images / MIN_STEPS))))


def run_phases(recipe: Recipe, core, data: TrainingData, out: Path, extra_callbacks) -> None:
    """Fit each phase in turn. A finished phase leaves its weights, so a resumed run skips it;
    an interrupted one resumes mid-phase from its own checkpoint."""
    first_epoch = 0
    for phase in recipe.phases():
        finished = out / CHECKPOINT_DIR / f"{phase.name}.weights.h5"
        if phase.begin:
            phase.begin()
        if finished.is_file():
            core.load_weights(finished)
        else:
            fit_phase(recipe.cfg, phase, core, data, out, first_epoch, extra_callbacks)
            with atomic_path(finished) as tmp:
                core.save_weights(tmp)
            shutil.rmtree(out / CHECKPOINT_DIR / phase.name, ignore_errors=True)
        first_epoch += phase.epochs


def fit_phase(
    cfg: RunConfig, phase: Phase, core, data: TrainingData, out: Path, first_epoch: int, extra
) -> None:
    """One phase's epochs, numbered after the phases before it, into the run's one log."""
    import keras

    batch = batch_size(cfg, len(data.x_train))
    steps = int(np.ceil(len(data.x_train) / batch))
    labels = len(data.label_names)
    schedule = replace(cfg, epochs=phase.epochs, learning_rate=phase.learning_rate)
    model = make_training_model(core, schedule, steps, labels)
    checkpoint = str(out / CHECKPOINT_DIR / phase.name)
    model.fit(
        data.x_train,
        data.y_train,
        batch_size=batch,
        initial_epoch=first_epoch,
        epochs=first_epoch + phase.epochs,
        # Validation photos carry no photo label: zeros for the label head's columns.
        validation_data=(data.x_val, with_label_targets(data.y_val, None, labels)),
        callbacks=[
            keras.callbacks.BackupAndRestore(checkpoint, delete_checkpoint=False),
            epoch_timer_class()(),
            keras.callbacks.CSVLogger(str(out / HISTORY_CSV), append=True),
            *extra,
        ],
        verbose=1 if sys.stdout.isatty() else 2,
    )


def report(model, core, cfg: RunConfig, data: TrainingData, out: Path) -> dict:
    """Score the saved model, write metrics, history and plots, and return the metrics."""
    import json

    from ..edge import plots
    from ..edge.metrics import label_set_rows

    probs = model.predict(data.x_test, batch_size=256, verbose=0)
    test_labels = data.y_test.argmax(axis=1)
    predicted = probs.argmax(axis=1)
    history = read_history(out / HISTORY_CSV)
    train_seconds = sum(history.get("epoch_seconds", []))
    metrics = {
        "arch": cfg.arch,
        "recipe": cfg.recipe,
        "params": int(core.count_params()),
        "test_accuracy": float((predicted == test_labels).mean()),
        "test_data": data.test_name,
        "val_accuracy": history["val_accuracy"][-1] if history.get("val_accuracy") else None,
        "per_class_accuracy": per_class_accuracy(
            predicted == test_labels, test_labels, data.contract.classes
        ),
        "test_images": len(test_labels),
        "train_images": len(data.x_train),
        "epochs": cfg.total_epochs,
        "train_seconds": round(train_seconds, 1),
        "versions": versions(),
    }
    classes = data.contract.classes
    if cfg.is_photo:  # the confusion that matters is on real photos of unseen senders
        val_probs = model.predict(data.x_val, batch_size=256, verbose=0)
        metrics["photos"] = {**data.seen, **photo_val_metrics(val_probs, data.y_val)}
        rows, row_names, allowed = label_set_rows(data.y_val > 0, classes)
        title = "real-photo validation"
        matrix = plots.confusion_matrix(
            rows, val_probs.argmax(1), out / CONFUSION_PNG, classes, title + ":", row_names, allowed
        )
    else:
        title, row_names = data.test_name, classes
        matrix = plots.confusion_matrix(
            test_labels, predicted, out / CONFUSION_PNG, classes, title + ":"
        )
    metrics["confusion"] = {"set": title, "rows": list(row_names), "counts": matrix.tolist()}
    write_text(out / "history.json", json.dumps(history, indent=2))
    write_text(out / "metrics.json", json.dumps(metrics, indent=2))
    plots.training_curves(history, out / CURVES_PNG)
    metrics["files"] = [str(out / name) for name in written_files()]
    return metrics


def written_files() -> tuple[str, ...]:
    """Every file a finished run leaves in its folder, in the order people look for them."""
    card = training_card_path(Path(MODEL_FILE)).name
    return (MODEL_FILE, card, CURVES_PNG, CONFUSION_PNG, "metrics.json", "history.json",
            HISTORY_CSV, CONFIG_FILE)  # fmt: skip
