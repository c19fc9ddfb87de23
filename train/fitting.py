"""What every training phase fits with: augmentation, the compiled training model, the epoch
timer and the per-epoch log."""

from __future__ import annotations

import time
from pathlib import Path

HISTORY_CSV = "history.csv"


def make_augmenter(cfg):
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


def make_training_model(core, cfg, steps_per_epoch: int, labels: int = 0):
    """Wrap the core model with augmentation (and a head for `labels` photo labels) and compile
    it with AdamW + warm-up cosine."""
    import keras

    inputs = keras.Input(core.input_shape[1:], dtype="float32")
    net = core
    if cfg.is_photo:
        from . import photo_training as pt

        augmenter = pt.make_photo_augmenter(cfg)
        if labels:
            classes = core.output_shape[-1]
            net = pt.with_label_head(core, labels)
            loss = pt.set_loss_with_label_head(cfg, classes)
            metrics = [pt.set_accuracy_metric(classes)]
        else:
            loss, metrics = pt.set_loss(cfg), [pt.set_accuracy_metric()]
    else:
        augmenter, metrics = make_augmenter(cfg), ["accuracy"]
        loss = keras.losses.CategoricalCrossentropy(
            from_logits=True, label_smoothing=cfg.label_smoothing
        )
    train_model = keras.Model(inputs, net(augmenter(inputs)), name="trainer")
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
        loss=loss,
        metrics=metrics,
    )
    return train_model


def epoch_timer_class():
    import keras

    class EpochTimer(keras.callbacks.Callback):
        """Adds `epoch_seconds` to the logs (before CSVLogger), so resumed runs sum honestly."""

        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            if logs is not None:
                logs["epoch_seconds"] = time.perf_counter() - self.started

    return EpochTimer


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
