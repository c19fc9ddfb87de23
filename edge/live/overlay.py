"""Draw a camera result on its frame: region box, label, top-3 bars, FPS and inference time."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, Protocol

import cv2
import numpy as np

from ..runtime.prediction import Ranked


class Drawable(Protocol):
    """What the overlay reads of a frame's result (a `FrameResult`)."""

    label: str
    score: float
    top_k: Sequence[Ranked]
    fps: float
    infer_ms: float

    @property
    def names_a_garment(self) -> bool: ...


GREEN, AMBER, WHITE, DARK = (80, 200, 80), (0, 170, 255), (255, 255, 255), (30, 30, 30)
FONT = cv2.FONT_HERSHEY_SIMPLEX
PAD = 3  # around text, inside its box
HEADLINE_SCALE = 0.9


def headline(result: Drawable) -> str:
    """The region's label: the class and its score, or what it would be when unsure."""
    if result.label == "uncertain" and result.top_k:
        best = result.top_k[0]
        return f"uncertain: {best.label}? {best.score:.0%}"
    if not result.top_k:  # a blank region: the model was not asked
        return result.label
    return f"{result.label} {result.score:.0%}"


def text_box(text: str, org: tuple[int, int], scale: float) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of the filled box `_text` draws behind `text` at `org` (its baseline)."""
    (w, h), baseline = cv2.getTextSize(text, FONT, scale, 1)
    x, y = org
    return x - PAD, y - h - PAD, x + w + PAD, y + baseline + PAD


def headline_origin(text: str, roi, scale: float = HEADLINE_SCALE) -> tuple[int, int]:
    """Just above the region's top-left corner, or just inside it when the region touches the
    frame's top: never over the region's edge."""
    x, y = roi[0], roi[1]
    (_, h), baseline = cv2.getTextSize(text, FONT, scale, 1)
    above = y - 4 - baseline - PAD
    if above - h - PAD >= 0:
        return x + PAD, above
    return x + 6, y + 4 + h + PAD


def draw(frame: np.ndarray, roi, result: Drawable) -> np.ndarray:
    """A copy of `frame` annotated with the result (amber when it names no garment: uncertain,
    or the background class)."""
    out = frame.copy()
    x, y, w, h = roi
    colour = GREEN if result.names_a_garment else AMBER
    title = headline(result)
    origin = headline_origin(title, roi)
    _text(out, title, origin, HEADLINE_SCALE, colour)
    entries = result.top_k[:3]
    if entries:
        layout = bars_layout(out.shape, roi, text_box(title, origin, HEADLINE_SCALE), len(entries))
        draw_bars(out, entries, layout, colour)
    cv2.rectangle(out, (x, y), (x + w, y + h), colour, 2)  # last: the region's edge stays seen
    footer = f"{result.fps:.1f} FPS  model {result.infer_ms:.2f} ms"
    _text(out, footer, (10, out.shape[0] - 12), 0.55, WHITE)
    return out


class BarsLayout(NamedTuple):
    left: int
    top: int
    wide: bool  # label beside its bar; else above it (a narrow column beside a large region)

    @property
    def width(self) -> int:
        return WIDE_WIDTH if self.wide else NARROW_WIDTH

    @property
    def row(self) -> int:
        return 24 if self.wide else 38


BAR, WIDE_WIDTH, NARROW_WIDTH = 120, 300, 134  # a bar; the wide and the narrow column


def bars_layout(shape, roi, headline_box, rows: int) -> BarsLayout:
    """Where and how the top-3 bars go: the first frame corner (top ones first, wide before
    narrow) where they cover neither the classified region nor its headline; else the one that
    covers the least. On a dark backing, so they never vanish on a white wall."""
    height, width = shape[:2]
    x, y, w, h = roi
    candidates = []
    for wide in (True, False):
        probe = BarsLayout(0, 0, wide)
        block = probe.row * rows
        for left, top in ((10, 52), (width - probe.width - 10, 52), (10, height - 60 - block),
                          (width - probe.width - 10, height - 60 - block)):  # fmt: skip
            candidates.append(BarsLayout(left, top, wide))

    def covered(layout: BarsLayout) -> int:
        box = (layout.left - 4, layout.top - 4, layout.left + layout.width,
               layout.top + layout.row * rows)  # fmt: skip
        return overlap(box, (x, y, x + w, y + h)) + overlap(box, headline_box)

    return min(candidates, key=covered)  # the first of the least covered


def draw_bars(out: np.ndarray, entries, layout: BarsLayout, colour) -> None:
    left, top = layout.left, layout.top
    bottom = top + layout.row * len(entries)
    cv2.rectangle(out, (left - 4, top - 4), (left + layout.width, bottom), DARK, -1)
    for i, entry in enumerate(entries):
        p = entry.score
        text = f"{entry.label} {p:.0%}"[: 18 if layout.wide else 16]
        if layout.wide:
            y0 = top + i * layout.row
            _text(out, text, (left + BAR + 8, y0 + 13), 0.5, WHITE)
        else:  # the label on its own line, the bar under it
            _text(out, text, (left, top + i * layout.row + 12), 0.45, WHITE)
            y0 = top + i * layout.row + 18
        cv2.rectangle(out, (left, y0), (left + int(BAR * p), y0 + 14), colour, -1)
        cv2.rectangle(out, (left, y0), (left + BAR, y0 + 14), WHITE, 1)


def overlap(a, b) -> int:
    """Pixels two (x0, y0, x1, y1) boxes share."""
    return max(0, min(a[2], b[2]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[1], b[1]))


def _text(img, text, org, scale, colour) -> None:
    """Text on a filled dark box, drawn once, at one thickness: OpenCV 5 advances each glyph by
    the stroke's thickness, so a thicker outline under thinner text drifts into a ghost copy."""
    x0, y0, x1, y1 = text_box(text, org, scale)
    cv2.rectangle(img, (x0, y0), (x1, y1), DARK, -1)
    cv2.putText(img, text, org, FONT, scale, colour, 1, cv2.LINE_AA)


KEYS_HINT = "1-9 collect  l learn  q quit"


def with_counts(frame: np.ndarray, lines: list[str]) -> np.ndarray:
    """A copy with the collect counts in the top-right corner, one line per class and key, and
    the keys' hint above the FPS line."""
    out = frame.copy()
    _text(out, KEYS_HINT, (10, out.shape[0] - 36), 0.5, WHITE)
    for i, line in enumerate(lines):  # right-aligned: a long class name stays in the frame
        (width, _), _ = cv2.getTextSize(line, FONT, 0.55, 1)
        _text(out, line, (max(0, out.shape[1] - width - 12), 30 + 22 * i), 0.55, WHITE)
    return out


def with_banner(frame: np.ndarray, lines: Sequence[str], colour=WHITE) -> np.ndarray:
    """A copy with a message across the bottom of the frame, one line each, above the keys'
    hint: what `l` (learn) has to say, where the user is looking. Long lines are cut to fit."""
    out = frame.copy()
    scale, step = 0.5, 20
    bottom = out.shape[0] - 62
    for i, line in enumerate(reversed(lines)):
        _text(out, fitted(line, out.shape[1] - 24, scale), (10, bottom - step * i), scale, colour)
    return out


def fitted(text: str, width: int, scale: float) -> str:
    """`text`, cut to end in '...' where it is wider than `width` pixels."""

    def wide(t: str) -> bool:
        return cv2.getTextSize(t, FONT, scale, 1)[0][0] > width

    if not wide(text):
        return text
    while len(text) > 1 and wide(text + "..."):
        text = text[:-1]
    return text.rstrip() + "..."
