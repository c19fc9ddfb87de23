"""The tasks edgeclf trains, one recipe each: its data, its model and the phases that fit it.

The runner (`trainer.train`) owns the folder, checkpoints, logs and artifacts; a recipe only says
what is trained and how, as Model Maker's `create(hparams, spec)` splits the two.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import NamedTuple

from .configs import (
    DistillConfig,
    FashionMnistConfig,
    OwnClassesConfig,
    PhotoConfig,
    RunConfig,
)
from .training_data import TrainingData, prepare_fashion_mnist, prepare_photo


class Phase(NamedTuple):
    """One stretch of fitting with its own schedule and checkpoint (`checkpoint/<name>/`)."""

    name: str
    epochs: int
    learning_rate: float
    begin: Callable[[], None] | None = None  # what changes in the model first (unfreezing)


class Recipe:
    """What every recipe answers; by default its model is fitted in one phase."""

    def __init__(self, cfg: RunConfig) -> None:
        self.cfg = cfg

    def data(self) -> TrainingData:
        raise NotImplementedError

    def model(self, data: TrainingData):
        """The core model: raw pixels in, logits out."""
        raise NotImplementedError

    def phases(self) -> list[Phase]:
        return [Phase("train", self.cfg.epochs, self.cfg.learning_rate)]


class FashionMnistRecipe(Recipe):
    cfg: FashionMnistConfig

    def data(self) -> TrainingData:
        return prepare_fashion_mnist(self.cfg)

    def model(self, data: TrainingData):
        from . import architectures

        return architectures.build(self.cfg.arch)


class DistillRecipe(FashionMnistRecipe):
    """Fashion-MNIST with targets blended from a teacher's probabilities (computed once)."""

    cfg: DistillConfig

    def data(self) -> TrainingData:
        from . import distill

        data = super().data()
        teacher_path = Path(self.cfg.teacher)
        distill.check_same_split(teacher_path, asdict(self.cfg))
        started = time.perf_counter()
        teacher = distill.load_teacher(teacher_path)
        data.y_train = distill.soft_targets(
            teacher, data.x_train, data.y_train, self.cfg.distill_weight
        )
        print(
            f"Distilling from {teacher_path} ({teacher.count_params():,} params), "
            f"{self.cfg.distill_weight:.0%} of each target; soft targets took "
            f"{time.perf_counter() - started:.0f} s",
            flush=True,
        )
        return data


class PhotoRecipe(Recipe):
    cfg: PhotoConfig

    def data(self) -> TrainingData:
        return prepare_photo(self.cfg)

    def model(self, data: TrainingData):
        from . import architectures

        return architectures.build(self.cfg.arch, self.cfg.size, len(data.contract.classes))


class OwnClassesRecipe(Recipe):
    """A new head on the base photo model's frozen features; with `fine_tune_epochs`, a second
    phase unfreezes the base at a tenth of the rate."""

    cfg: OwnClassesConfig

    def __init__(self, cfg: OwnClassesConfig) -> None:
        from .own_classes import load_base

        self.base = load_base(Path(cfg.base) if cfg.base else None)
        super().__init__(replace(cfg, size=int(self.base.input_shape[1])))
        self.backbone = None

    def data(self) -> TrainingData:
        return prepare_photo(self.cfg)

    def model(self, data: TrainingData):
        from .own_classes import with_new_head

        core, self.backbone = with_new_head(self.base, len(self.cfg.classes))
        return core

    def phases(self) -> list[Phase]:
        head = Phase("head", self.cfg.epochs, self.cfg.learning_rate)
        if not self.cfg.fine_tune_epochs:
            return [head]
        fine = Phase(
            "fine-tune", self.cfg.fine_tune_epochs, self.cfg.learning_rate / 10, self._unfreeze
        )
        return [head, fine]

    def _unfreeze(self) -> None:
        self.backbone.trainable = True


RECIPES: dict[type[RunConfig], type[Recipe]] = {
    FashionMnistConfig: FashionMnistRecipe,
    DistillConfig: DistillRecipe,
    PhotoConfig: PhotoRecipe,
    OwnClassesConfig: OwnClassesRecipe,
}


def recipe_for(cfg: RunConfig) -> Recipe:
    return RECIPES[type(cfg)](cfg)
