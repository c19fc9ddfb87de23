"""`camera --collect`: save the region of live frames as labelled JPEGs, to teach a model classes of
your own. Saved images are the raw region (not the model's view), so any later recipe can use them.

Files are named `<session>-<frame>.jpg` under `DIR/<class>/`: training splits validation by session,
so frames of one sitting never land on both sides.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..atomic import check_writable_dir, write_new
from ..errors import EdgeclfError
from ..images import is_image_path
from ..runtime.classes import check_class_name, did_you_mean, fold, near_copy, parse_classes
from .frame import FrameResult

JPEG_QUALITY = 92
SAME_GARMENT = 8.0  # mean difference (0-255) of two 32x32 gray thumbnails: one garment, held still


def image_count(folder: Path) -> int:
    """The images directly in a class folder (none: 0)."""
    return sum(1 for p in folder.iterdir() if is_image_path(p)) if folder.is_dir() else 0


def region_of(result: FrameResult) -> np.ndarray:
    x, y, w, h = result.roi
    return result.image[y : y + h, x : x + w]


def thumbnail(region: np.ndarray) -> np.ndarray:
    gray = region if region.ndim == 2 else cv2.cvtColor(region, cv2.COLOR_BGR2GRAY)
    return cv2.resize(gray, (32, 32), interpolation=cv2.INTER_AREA).astype(np.int16)


def looks_the_same(a: np.ndarray, b: np.ndarray) -> bool:
    """A cheap difference on the region: the same garment, barely moved."""
    return float(np.abs(a - b).mean()) < SAME_GARMENT


@dataclass
class CollectOptions:
    folder: Path
    classes: tuple[str, ...] = ()
    label: str | None = None  # headless: save every `every`-th frame under this class
    every: int = 5
    keep_classes: bool = False  # learning adds the folder's classes to the base model's

    @classmethod
    def for_command(
        cls,
        folder: Path | None,
        classes: str | None,
        label: str | None = None,
        every: int = 5,
        keep_classes: bool = False,
    ) -> CollectOptions | None:
        """The options `camera` and `serve` take; None when not collecting."""
        if (classes or label or keep_classes) and not folder:
            raise EdgeclfError("--classes, --label and --keep-classes go with --collect DIR")
        if label is not None:
            check_class_name(label, "--label")  # a folder under DIR, never a path out of it
        chosen = parse_classes(classes or "")
        return cls(folder, chosen, label, every, keep_classes) if folder else None


class NearName(EdgeclfError):
    """A new class name one typo from another: added only once confirmed."""


class Collector:
    """Saves regions under `folder/<class>/`, never overwriting, and counts what each class has."""

    def __init__(self, opts: CollectOptions, base_classes: tuple[str, ...] = ()) -> None:
        """`base_classes`: the model's own, which --keep-classes keeps: no class may copy one."""
        existing = (
            sorted(p.name for p in opts.folder.iterdir() if p.is_dir())
            if opts.folder.is_dir()
            else []
        )
        classes = opts.classes or tuple(existing) + ((opts.label,) if opts.label else ())
        classes = tuple(dict.fromkeys(classes))
        if not classes:
            raise EdgeclfError("--collect needs --classes a,b,c (or --label NAME)")
        if opts.label is not None and opts.label not in classes:
            raise EdgeclfError(
                f"--label {opts.label!r} is not one of --classes {', '.join(classes)}"
            )
        check_writable_dir(opts.folder, "--collect")
        for name in classes:
            if (opts.folder / name).exists() and not (opts.folder / name).is_dir():
                raise EdgeclfError(f"--collect: {opts.folder / name} is a file, not a class folder")
        self.opts, self.classes = opts, classes
        self.base_classes = tuple(base_classes) if opts.keep_classes else ()
        for name in classes:
            self._check_not_base(name)
        self.session = time.strftime("%Y%m%d-%H%M%S")
        self.counts = {name: self._count(name) for name in classes}
        self.seen = 0  # classified frames offered to a headless collection
        self.last_saved: dict[str, np.ndarray] = {}  # per class: a thumbnail of its last capture
        self.same_as_last = False  # the last capture looked like the one before it

    def _count(self, name: str) -> int:
        return image_count(self.opts.folder / name)

    def __call__(self, result: FrameResult) -> Path | None:
        """Headless collection: the first classified frame and every `every`-th after it go to
        `label` (counted in classified frames, so --max-frames N saves ceil(N / every))."""
        self.seen += 1
        if self.opts.label and (self.seen - 1) % self.opts.every == 0:
            return self.save(result, self.opts.label)
        return None

    def save(self, result: FrameResult, label: str) -> Path:
        return self.save_region(region_of(result), result.frame, label)

    def save_region(self, region: np.ndarray, frame: int, label: str) -> Path:
        """Save one region as `<session>-<frame>.jpg` under `label`; remembers how it looks, so
        `same_as_last` can tell a burst of one garment from a burst of several."""
        ok, jpeg = cv2.imencode(".jpg", region, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if not ok:
            raise EdgeclfError("cannot encode the region as JPEG")
        path = write_new(self.opts.folder / label / f"{self.session}-{frame:06d}.jpg", jpeg)
        self.counts[label] += 1
        thumb = thumbnail(region)
        self.same_as_last = label in self.last_saved and looks_the_same(
            thumb, self.last_saved[label]
        )
        self.last_saved[label] = thumb
        return path

    def add(self, name: str, confirm: bool = False) -> None:
        """A class to collect too (serve's "add class"), named as a folder can be. One that would
        be a class already (`Jeans` beside `jeans`), or with --keep-classes a near-copy of a base
        class, is refused; one a typo away from another (`hta` beside `hat`) until `confirm`."""
        check_class_name(name, "class")
        same = [c for c in self.classes if fold(c) == fold(name)]
        if same:
            raise EdgeclfError(f"already collecting {same[0]}")
        self._check_not_base(name)
        near = did_you_mean(name, self.classes)
        if near and not confirm:
            raise NearName(f"new class {name!r} (did you mean {near!r}?): add it again to confirm")
        self.classes = (*self.classes, name)
        self.counts[name] = self._count(name)

    def _check_not_base(self, name: str) -> None:
        base = near_copy(name, self.base_classes)
        if base:
            raise EdgeclfError(f"{name}: the model already knows {base} (kept with --keep-classes)")

    def images(self, label: str) -> list[Path]:
        """The images under `label`, newest first."""
        folder = self.opts.folder / self._known(label)
        found = [p for p in folder.iterdir() if is_image_path(p)] if folder.is_dir() else []
        return sorted(found, key=lambda p: p.name, reverse=True)

    def image(self, label: str, name: str) -> Path:
        """One captured image by its bare file name (nothing outside its class folder)."""
        path = self.opts.folder / self._known(label) / name
        if Path(name).name != name or name.startswith(".") or not is_image_path(path):
            raise EdgeclfError(f"no image {name!r} under {label}")
        if not path.is_file():
            raise EdgeclfError(f"no image {name!r} under {label}")
        return path

    def delete(self, label: str, name: str) -> None:
        self.image(label, name).unlink()
        self.counts[label] = self._count(label)

    def _known(self, label: str) -> str:
        if label not in self.classes:
            raise EdgeclfError(f"unknown class {label!r}; collecting {', '.join(self.classes)}")
        return label

    def key_label(self, key: int) -> str | None:
        """The class a number key (1-9) stands for, if any."""
        index = key - ord("1")
        return self.classes[index] if 0 <= index < min(9, len(self.classes)) else None

    def lines(self) -> list[str]:
        """What the overlay shows: one line per class, with its key and count."""
        return [f"{i + 1} {name}: {self.counts[name]}" for i, name in enumerate(self.classes)][:9]
