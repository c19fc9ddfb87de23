"""One config per training recipe: what defines a run, saved as `config.json` so that `--resume`
rebuilds the same run. Options that a recipe has no field for do not apply to it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import ClassVar

from ..edge.errors import EdgeclfError, first_line

CONFIG_FILE = "config.json"


@dataclass
class RunConfig:
    """What every recipe fits with: the schedule, the optimiser and augmentation shift."""

    recipe: ClassVar[str]
    run_name: ClassVar[str]  # runs/<run_name>, runs/<run_name>2, ... when --out is not given
    is_photo: ClassVar[bool] = False
    set_by_run: ClassVar[frozenset[str]] = frozenset()  # fields the run sets, not the user

    epochs: int = 80
    batch_size: int = 128
    seed: int = 0
    learning_rate: float = 3e-3
    weight_decay: float = 0.05
    warmup_epochs: int = 2
    label_smoothing: float = 0.1
    shift: float = 0.1

    @property
    def total_epochs(self) -> int:
        return self.epochs

    def to_json(self) -> str:
        return json.dumps({"recipe": self.recipe, **asdict(self)}, indent=2)


@dataclass
class FashionMnistConfig(RunConfig):
    """A 28x28 gray model from scratch on Fashion-MNIST."""

    recipe: ClassVar[str] = "fashion-mnist"
    run_name: ClassVar[str] = "fashion"

    arch: str = "small"
    limit: int | None = None
    erase_prob: float = 0.25
    val_size: int = 5000
    bf16: bool = False
    data_dir: str | None = None


@dataclass
class DistillConfig(FashionMnistConfig):
    """A Fashion-MNIST model that learns from a trained teacher's soft targets too."""

    recipe: ClassVar[str] = "distill"
    run_name: ClassVar[str] = "distill"

    teacher: str = ""
    distill_weight: float = 0.7


@dataclass
class PhotoConfig(RunConfig):
    """A colour photo model from scratch on real photos, with Fashion-MNIST rendered as photos."""

    recipe: ClassVar[str] = "photos"
    run_name: ClassVar[str] = "photo"
    is_photo: ClassVar[bool] = True
    classes: ClassVar[None] = None  # the ten Fashion-MNIST classes
    background_class: ClassVar[None] = None

    photos: str = ""
    arch: str = "photo-medium"
    size: int = 64
    val_fraction: float = 0.15
    render_per_class: int = 700
    label_head: bool = True  # a second head on the photo folder's own labels, for training only
    per_class: int | None = None  # at most this many training photos per class
    bf16: bool = False
    data_dir: str | None = None


@dataclass
class OwnClassesConfig(RunConfig):
    """Classes of your own: a new head on a photo model's frozen features, then optionally the
    whole model at a tenth of the rate."""

    recipe: ClassVar[str] = "own-classes"
    run_name: ClassVar[str] = "own-classes"
    is_photo: ClassVar[bool] = True
    set_by_run: ClassVar[frozenset[str]] = frozenset({"size"})
    arch: ClassVar[str] = "own-classes"
    render_per_class: ClassVar[int] = 0
    label_head: ClassVar[bool] = False
    bf16: ClassVar[bool] = False
    data_dir: ClassVar[None] = None

    photos: str = ""
    classes: list[str] = field(default_factory=list)
    background_class: str | None = None  # the class of no-garment frames, among `classes`
    base: str | None = None
    fine_tune_epochs: int = 0
    per_class: int | None = None
    val_fraction: float = 0.15
    size: int = 64  # the base model's input size, set when the run starts

    @property
    def total_epochs(self) -> int:
        return self.epochs + self.fine_tune_epochs


CONFIGS: dict[str, type[RunConfig]] = {
    c.recipe: c for c in (FashionMnistConfig, DistillConfig, PhotoConfig, OwnClassesConfig)
}


def field_names(config: type[RunConfig]) -> set[str]:
    return {f.name for f in fields(config)}


def recipe_of(saved: dict) -> str:
    """The recipe a saved config names; configs from before recipes had names are told apart by
    their fields."""
    if "recipe" in saved:
        return saved["recipe"]
    if saved.get("classes"):
        return OwnClassesConfig.recipe
    if saved.get("photos"):
        return PhotoConfig.recipe
    return DistillConfig.recipe if saved.get("teacher") else FashionMnistConfig.recipe


def load_config(folder: Path) -> RunConfig:
    """The config of the run in `folder`, checked, for `--resume`."""
    path = folder / CONFIG_FILE
    if not path.is_file():
        raise EdgeclfError(f"cannot resume: {path} not found (not a training folder?)")
    try:
        saved = json.loads(path.read_text())
        if not isinstance(saved, dict):
            raise ValueError("not a JSON object")
        recipe = recipe_of(saved)
        if recipe not in CONFIGS:
            raise ValueError(f"unknown recipe {recipe!r}")
        config = CONFIGS[recipe]
        cfg = config(**{k: v for k, v in saved.items() if k in field_names(config)})
        check_types(cfg)
        return cfg
    except (OSError, UnicodeDecodeError, ValueError, TypeError, AttributeError) as exc:
        raise EdgeclfError(f"cannot resume: {path} is unreadable ({first_line(exc)})") from None


def check_types(cfg: RunConfig) -> None:
    """Whole numbers where the run counts, numbers where it scales (a hand-edited config)."""
    for f in fields(cfg):
        value, default = getattr(cfg, f.name), f.default
        if isinstance(default, bool):
            ok = isinstance(value, bool)
        elif isinstance(default, int):
            ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
        elif isinstance(default, float):
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        else:
            continue
        if not ok:
            kind = {bool: "true or false", int: "a whole number", float: "a number"}[type(default)]
            raise ValueError(f"{f.name} is {value!r}, not {kind}")
    if cfg.epochs < 1 or cfg.batch_size < 1:
        raise ValueError("epochs and batch_size must be at least 1")
    from .architectures import ARCHITECTURES, PHOTO_ARCHITECTURES

    known = {*ARCHITECTURES, *PHOTO_ARCHITECTURES, "own-classes"}
    if getattr(cfg, "arch", None) not in known:
        raise ValueError(
            f"arch is {getattr(cfg, 'arch', None)!r}, not one of {', '.join(sorted(known))}"
        )


# The command line's options that choose a recipe or a folder rather than set a field.
COMMAND_ONLY = {"out", "resume", "overwrite", "classes", "classes_from_folders"}
# Where each recipe-specific option applies, for the one line that refuses it elsewhere.
APPLIES_TO = {
    "arch": "models trained from scratch (Fashion-MNIST or --photos)",
    "limit": "Fashion-MNIST models",
    "erase_prob": "Fashion-MNIST models",
    "bf16": "training from scratch, not for own classes",
    "data_dir": "models that use Fashion-MNIST (not own classes)",
    "size": "photo models from scratch (own classes take the base model's size)",
    "render_per_class": "ten-class photo models (--photos, no --classes)",
    "label_head": "ten-class photo models (--photos, no --classes)",
    "background_class": "own classes (--classes or --classes-from-folders)",
    "base": "own classes (--classes or --classes-from-folders)",
    "fine_tune_epochs": "own classes (--classes or --classes-from-folders)",
    "per_class": "photo models (--photos)",
    "distill_weight": "distillation (--teacher)",
    "teacher": "Fashion-MNIST models (it does not work with --photos)",
}


def flag(name: str) -> str:
    """An option's name as typed: `fine_tune_epochs` -> `--fine-tune-epochs`."""
    return "--" + name.replace("_", "-")


def config_for_command(options: dict, given: set[str]) -> RunConfig:
    """The recipe's config from the options the command line was given; an option that does
    not apply to the recipe is refused, all at once, before any work."""
    photos = options.get("photos")
    own = bool(options.get("classes") or options.get("classes_from_folders"))
    if options.get("teacher") and photos:
        # Soft targets would blur the set-valued labels the photo loss relies on.
        raise EdgeclfError("--teacher distils Fashion-MNIST models; it does not work with --photos")
    if own and not photos:
        raise EdgeclfError("--classes and --classes-from-folders need --photos DIR")
    config: type[RunConfig] = (
        OwnClassesConfig
        if own
        else PhotoConfig
        if photos
        else DistillConfig
        if options.get("teacher")
        else FashionMnistConfig
    )
    names = field_names(config) - config.set_by_run
    stray = [name for name in sorted(given - COMMAND_ONLY) if name not in names]
    if stray:
        raise EdgeclfError(
            "; ".join(f"{flag(n)} is for {APPLIES_TO.get(n, 'other runs')}" for n in stray)
        )
    settings = {
        name: str(value) if isinstance(value, Path) else value
        for name, value in options.items()
        if name in names and name in given
    }
    if own:
        return own_classes_config(Path(photos), options, settings)
    if photos and not Path(photos).is_dir():
        raise EdgeclfError(f"--photos {photos}: not a folder")
    cfg = config(**settings)
    from .architectures import ARCHITECTURES, PHOTO_ARCHITECTURES

    known = PHOTO_ARCHITECTURES if photos else ARCHITECTURES
    if cfg.arch not in known:
        raise EdgeclfError(f"unknown --arch {cfg.arch!r}; choose from {', '.join(known)}")
    return cfg


def own_classes_config(photos: Path, options: dict, settings: dict) -> OwnClassesConfig:
    """Own classes: named by --classes, or by the class folders (parsed and checked once)."""
    from ..edge.datasets.class_folders import check_background, check_class_count, class_folders
    from ..edge.datasets.photoset import check_labels
    from ..edge.runtime.classes import parse_classes

    if options.get("classes_from_folders"):
        names = class_folders(photos)
    else:
        names = list(parse_classes(options["classes"]))
        check_labels(photos, names)
    check_class_count(names, "--classes names")
    check_background(settings.get("background_class"), names)
    return OwnClassesConfig(**{**settings, "classes": names})
