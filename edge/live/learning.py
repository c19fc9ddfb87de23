"""Learn from the collect folder while the camera runs, then swap the new model in.

`teach` runs in a background thread; the model in use keeps serving until the new one is loaded
whole, and the swap is one reference assignment, so no frame or request ever sees half a model.
Used by serve's Learn button and by the camera window's `l` key.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from ..errors import EdgeclfError
from ..runtime.classifier import DEFAULT_MODEL, TIERS, Classifier
from ..runtime.contract import PHOTO
from ..teach.run import TeachOptions, TeachResult, save, teach
from .collect import Collector, image_count

MIN_PHOTOS = 5  # per class, before a live Learn: one photo a class learns nothing real


def photo_counts(folder: Path) -> dict[str, int]:
    """Images per class folder of the collect folder (none yet: empty)."""
    if not folder.is_dir():
        return {}
    return {
        sub.name: image_count(sub)
        for sub in sorted(folder.iterdir())
        if sub.is_dir() and not sub.name.startswith(".")
    }


def model_path_for(folder: Path) -> Path:
    """`shop/` -> `shop.tflite` beside it: outside the class folders it learns from."""
    return folder.parent / f"{folder.name}.tflite"


def learning_base(running: Classifier) -> Path:
    """What a Learn teaches on: the tier the camera or page runs. A model that teach made names
    the base it was taught on in its card, and where that is a bundled tier, Learn goes back to
    it (a taught model has no bank, and Learn may write over it); any other photo model is its
    own base; beside a gray Fashion-MNIST model, the default photo model."""
    report = running.card.report if running.card else None
    source = (report or {}).get("source_model")
    bundled = {path.name: path for path in TIERS.values()}
    if source in bundled:
        return bundled[source]
    return running.path if running.contract.recipe == PHOTO else DEFAULT_MODEL


class Learner:
    """One learning run at a time from `folder`; `swap` receives each new model, loaded."""

    def __init__(
        self,
        folder: Path,
        swap: Callable[[Classifier], None],
        background: str | None = None,
        keep_classes: bool = False,
        base: Path = DEFAULT_MODEL,
    ) -> None:
        self.folder, self.swap, self.background = folder, swap, background
        self.keep_classes, self.base = keep_classes, base
        self.out = model_path_for(folder)
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self.stage, self.done, self.total = "", 0, 0
        self.result: TeachResult | None = None
        self.written: tuple[Path, ...] = ()
        self.error: str | None = None

    @classmethod
    def beside(cls, collector: Collector, live) -> Learner:
        """The Learner of a live view that collects (the camera's `l`, serve's Learn): it learns
        from the collect folder, on the tier the view runs, and swaps into the view."""
        return cls(
            collector.opts.folder,
            live.swap,
            keep_classes=collector.opts.keep_classes,
            base=learning_base(live.clf),
        )

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def check_ready(self) -> None:
        """Refuse, in words for the page and the camera window, a Learn that cannot teach
        anything real: fewer than two classes with photos (one beside --keep-classes), or a
        class with fewer than MIN_PHOTOS."""
        counts = photo_counts(self.folder)
        having = {name: n for name, n in counts.items() if n}
        wanted = 1 if self.keep_classes else 2
        if len(having) < wanted:
            raise EdgeclfError(
                f"capture photos of at least {wanted} class{'es' if wanted > 1 else ''} first"
            )
        thin = [f"{name} has {n}" for name, n in having.items() if n < MIN_PHOTOS]
        if thin:
            raise EdgeclfError(
                f"capture at least {MIN_PHOTOS} photos of each class first: {', '.join(thin)}"
            )

    def start(self) -> None:
        """Begin learning in the background; refused while a run is still going."""
        with self.lock:
            if self.running:
                raise EdgeclfError("already learning")
            self.check_ready()
            self.stage, self.done, self.total, self.error = "", 0, 0, None
            self.thread = threading.Thread(target=self.run, name="edgeclf-learn", daemon=True)
            self.thread.start()

    def progress(self, stage: str, done: int, total: int) -> None:
        self.stage, self.done, self.total = stage, done, total

    def run(self) -> TeachResult | None:
        """Teach, write and load the result whole, then swap it in (also callable in the
        foreground, after `check_ready`). Whatever goes wrong is said in `error`; the old model
        stays."""
        try:
            opts = TeachOptions(
                folder=self.folder,
                out=self.out,
                background_class=self.background,
                keep_classes=self.keep_classes,
                base=self.base,
            )
            taught = teach(opts, self.progress)
            self.written = save(taught, self.out)
            self.swap(Classifier(self.out))
        except EdgeclfError as exc:  # said on the page or the terminal; the old model stays
            self.error = str(exc)
            return None
        except OSError as exc:
            self.error = f"cannot learn: {exc.strerror or exc}"
            return None
        except Exception as exc:  # noqa: BLE001 - a thread that dies silently says nothing
            self.error = f"learning failed: {type(exc).__name__}: {exc}"
            return None
        self.result = taught.result
        return taught.result

    def status(self) -> dict:
        """What the page shows: running, progress, the per-class result, its notes or the
        error."""
        out: dict = {"running": self.running, "done": self.done, "total": self.total}
        out["stage"] = self.stage
        out["error"] = self.error
        if self.result is not None:
            out["model"] = self.result.out.name
            out["classes"] = [c._asdict() for c in self.result.classes]
            out["accuracy"] = self.result.int8_accuracy
            out["notes"] = list(self.result.notes)
            out["optimistic"] = list(self.result.optimistic)
        return out
