"""A validation split for classes you collected yourself, that can never starve a class.

People collect one class at a time: one `camera --collect` sitting per class. A split by sitting
then moves whole classes into validation. This one splits within each class instead:
- a class with two or more sittings (or loose photos, each its own) holds out whole sittings,
  always keeping at least one for training;
- a class from one sitting holds out its last frames in time order. Neighbouring frames look
  alike, so that validation is optimistic, and the split says so.
The hash of (seed, sitting) decides, so a sitting's side never depends on the others: `bench
--split val` reproduces the split from the card alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from .photoset import unit_hash


class ClassSplit(NamedTuple):
    """How one class was split."""

    name: str
    train: int
    val: int
    by_time: bool  # one sitting: the last frames held out


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

    `groups` are sittings (a collect session, or the file itself); `order` sorts one sitting's
    frames in time (collect names them `<session>-<frame>`)."""
    labels, groups = np.asarray(labels), np.asarray(groups)
    train: list[int] = []
    val: list[int] = []
    report = []
    for c, name in enumerate(names):
        members = np.flatnonzero(labels == c)
        if not len(members):
            report.append(ClassSplit(name, 0, 0, False))
            continue
        sittings = sorted(set(groups[members].tolist()))
        if len(sittings) >= 2:
            rank = sorted(sittings, key=lambda g: unit_hash(f"{seed}:{g}"))
            held = {g for g in rank if unit_hash(f"{seed}:{g}") < val_fraction}
            held = held or {rank[0]}
            held.discard(rank[-1])  # at least one sitting trains
            is_val = np.array([g in held for g in groups[members].tolist()])
            by_time = False
        else:
            timed = sorted(members.tolist(), key=lambda i: order[i])
            count = round(len(timed) * val_fraction) if len(timed) >= 2 else 0
            count = min(max(count, 1 if len(timed) >= 2 else 0), len(timed) - 1)
            last = set(timed[len(timed) - count :]) if count else set()
            is_val = np.array([i in last for i in members.tolist()])
            by_time = True
        train += members[~is_val].tolist()
        val += members[is_val].tolist()
        report.append(ClassSplit(name, int((~is_val).sum()), int(is_val.sum()), by_time))
    return SittingSplit(np.array(sorted(train), int), np.array(sorted(val), int), tuple(report))
