"""A validation split for classes you collected yourself, that can never starve a class.

People collect one class at a time: one `camera --collect` sitting per class, and now and then a
photo dropped in by hand. A split by sitting would move whole classes into validation, or train a
class on the one loose photo. This one splits within each class, by its photos:
- it holds out about `val_fraction` of the class's photos, never more than it trains on (a class
  of fewer than 3 photos may validate on as many as it trains on);
- it takes whole sittings (a collect session, or a loose photo, each its own) where they fit in
  that share, in an order fixed by the hash of (seed, sitting);
- where no sitting fits, it holds out the last frames in time. Neighbouring frames look alike, so
  that validation is optimistic, and the split says so.
The same folder always splits the same way, so `bench --split val` reproduces it from the card.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from .photoset import unit_hash


class ClassSplit(NamedTuple):
    """How one class was split, and why."""

    name: str
    train: int
    val: int
    by_time: bool  # no sitting fitted the share: its last frames held out
    why: str = ""


class SittingSplit(NamedTuple):
    train: np.ndarray  # indices
    val: np.ndarray
    classes: tuple[ClassSplit, ...]

    @property
    def optimistic(self) -> tuple[str, ...]:
        """The classes validated on frames of their own training sitting."""
        return tuple(c.name for c in self.classes if c.by_time and c.val)

    def note(self) -> str | None:
        """The one line that says which validation figures are optimistic, if any."""
        if not self.optimistic:
            return None
        return (
            f"note: {', '.join(self.optimistic)} came from one sitting each: validated on its "
            "last frames, which look like the frames before them, so validation is optimistic"
        )

    def reasons(self) -> list[str]:
        """One line per class: what trained, what validated, and why."""
        width = max((len(c.name) for c in self.classes), default=0)
        return [
            f"  {c.name:<{width}}  {c.train:>4} train  {c.val:>3} validation  ({c.why})"
            for c in self.classes
        ]

    @property
    def unvalidated(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.classes if not c.val)


def sitting_split(
    labels: Sequence[int],
    groups: Sequence[str],
    order: Sequence[str],
    names: Sequence[str],
    val_fraction: float,
    seed: int,
) -> SittingSplit:
    """Train and validation indices, split within each class (`labels` index `names`).

    `groups` are sittings (a collect session, or the file itself); `order` sorts frames in time
    (collect names them `<session>-<frame>`)."""
    labels, groups = np.asarray(labels), np.asarray(groups)
    train: list[int] = []
    val: list[int] = []
    report = []
    for c, name in enumerate(names):
        members = np.flatnonzero(labels == c)
        held, by_time, why = class_holdout(members, groups, order, val_fraction, seed)
        is_val = np.isin(members, held)
        train += members[~is_val].tolist()
        val += members[is_val].tolist()
        report.append(ClassSplit(name, int((~is_val).sum()), int(is_val.sum()), by_time, why))
    return SittingSplit(np.array(sorted(train), int), np.array(sorted(val), int), tuple(report))


def holdout_size(photos: int, val_fraction: float) -> int:
    """How many of a class's photos validate: about `val_fraction`, at least one where there are
    two, and never more than train (below 3 photos, as many)."""
    if photos < 2 or val_fraction <= 0:
        return 0
    return min(max(round(photos * val_fraction), 1), max(photos // 2, 1))


def class_holdout(
    members: np.ndarray, groups: np.ndarray, order: Sequence[str], val_fraction: float, seed: int
) -> tuple[list[int], bool, str]:
    """One class's held-out photos, whether they are its last frames in time, and why."""
    size = holdout_size(len(members), val_fraction)
    if not size:
        return [], False, "too few photos to validate" if len(members) else "no photos"
    sittings: dict[str, list[int]] = {}
    for i in members.tolist():
        sittings.setdefault(str(groups[i]), []).append(i)
    held: list[int] = []
    taken = 0
    for sitting in sorted(sittings, key=lambda g: unit_hash(f"{seed}:{g}")):
        if len(sittings) - taken > 1 and len(held) + len(sittings[sitting]) <= size:
            held += sittings[sitting]
            taken += 1
    if held:
        return held, False, f"{taken} of {len(sittings)} sittings held out whole"
    timed = sorted(members.tolist(), key=lambda i: order[i])
    what = "its one sitting" if len(sittings) == 1 else "its sittings (none fitted)"
    return timed[-size:], True, f"the last {size} frame(s) of {what} held out: optimistic"
