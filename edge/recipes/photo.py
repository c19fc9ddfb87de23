"""The `photo` recipe: a colour photo -> the garment's box, padded to a square, at the model's size.

The box is found in colour (a red shirt on a green sheet has one gray level and two colours). A
garment often lies on a sheet, towel or paper that itself lies on a table: the first box found is
then the sheet, whose own border is plain. So the search repeats inside a box whose inner border
is uniform and unlike what surrounds it, with that border as the new background. Clutter beside
the garment (a cup, a phone) is dropped unless it touches the main region.
"""

from __future__ import annotations

import cv2
import numpy as np

from .finder import distance, enclosing, full_scale, regions, working_copy

WORK_SIDE = 128  # find the box on a copy this size: fast, and blind to fine texture
MIN_CONTRAST = 28  # colour distance (max over channels) that separates garment from background
MAX_DEPTH = 2  # table -> sheet -> garment
MARGIN = 0.04  # of the box side, kept around the garment
SHEET_PLAIN_SHARE = 0.85  # share of a sheet's inner border that must be close to its colour


def frame_pixels(image: np.ndarray, ring: int) -> np.ndarray:
    """The pixels of a frame `ring` wide around the image, as (N, 3)."""
    return np.concatenate(
        [
            image[:ring].reshape(-1, 3),
            image[-ring:].reshape(-1, 3),
            image[:, :ring].reshape(-1, 3),
            image[:, -ring:].reshape(-1, 3),
        ]
    )


def border_colour(image: np.ndarray, ring: int | None = None) -> np.ndarray:
    """Median colour of a thin frame around the image (corners and edges)."""
    h, w = image.shape[:2]
    return np.median(frame_pixels(image, ring or max(1, min(h, w) // 20)), axis=0)


def plain_share(image: np.ndarray, ring: int, colour: np.ndarray) -> float:
    """Share of the frame's pixels within MIN_CONTRAST of `colour` (a mug on a sheet's edge
    leaves most of it plain)."""
    frame = frame_pixels(image, ring).astype(np.int16)
    return float((np.abs(frame - colour.astype(np.int16)).max(axis=1) <= MIN_CONTRAST).mean())


def foreground_box(small: np.ndarray, background: np.ndarray) -> tuple[int, int, int, int] | None:
    """Box (x, y, w, h) of what stands out from `background`, or None when nothing does."""
    h, w = small.shape[:2]
    diff = distance(small, background)
    # Otsu splits near-background from garment whatever share of the image each covers.
    otsu, _ = cv2.threshold(diff, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    parts, centroids = regions(diff, max(MIN_CONTRAST, otsu))
    if not len(parts):
        return None
    # The garment is the largest region, favouring the middle: the camera is pointed at it.
    off_centre = np.hypot(*((centroids - (w / 2, h / 2)) / (w / 2, h / 2)).T) / np.sqrt(2)
    main = parts[np.argmax(parts[:, cv2.CC_STAT_AREA] * (1 - 0.8 * off_centre))]
    if main[cv2.CC_STAT_AREA] < 0.005 * h * w:  # specks only
        return None
    pad = 0.1 * max(h, w)  # sizeable parts near the main region belong to the garment
    mx0, my0 = main[0] - pad, main[1] - pad
    mx1, my1 = main[0] + main[2] + pad, main[1] + main[3] + pad
    near = (
        (parts[:, 0] < mx1)
        & (parts[:, 0] + parts[:, 2] > mx0)
        & (parts[:, 1] < my1)
        & (parts[:, 1] + parts[:, 3] > my0)
        & (parts[:, cv2.CC_STAT_AREA] >= 0.1 * main[cv2.CC_STAT_AREA])
    )
    return enclosing(parts[near])


def is_sheet(small: np.ndarray, box: tuple[int, int, int, int], outside: np.ndarray) -> bool:
    """A large, plain-bordered region unlike its surroundings: something the garment lies on."""
    x, y, w, h = box
    H, W = small.shape[:2]
    if w * h < 0.2 * H * W or min(w, h) < 16:
        return False
    inner = small[y : y + h, x : x + w]
    ring = max(2, min(w, h) // 16)
    inset = inner[ring : h - ring, ring : w - ring]  # skip the sheet's own edge
    if min(inset.shape[:2]) < 4 * ring:
        return False
    colour = border_colour(inset, ring)
    differs = np.abs(colour - outside).max() > MIN_CONTRAST
    return bool(differs and plain_share(inset, ring, colour) >= SHEET_PLAIN_SHARE)


def garment_box(image: np.ndarray) -> tuple[int, int, int, int]:
    """The garment's box (x, y, w, h) in a BGR image; the whole image when nothing stands out."""
    h, w = image.shape[:2]
    small, scale = working_copy(image, WORK_SIDE)
    ox, oy = 0, 0
    region = small
    background = border_colour(region)
    box = None
    for _ in range(MAX_DEPTH + 1):
        found = foreground_box(region, background)
        if found is None:
            break
        box = (found[0] + ox, found[1] + oy, found[2], found[3])
        if not is_sheet(region, found, background):
            break
        x, y, bw, bh = found
        ring = max(2, min(bw, bh) // 16)
        ox, oy = ox + x + ring, oy + y + ring  # look inside the sheet, past its edge
        region = region[y + ring : y + bh - ring, x + ring : x + bw - ring]
        background = border_colour(region, ring)
    if box is None or not plausible(box, small.shape):
        return 0, 0, w, h
    return full_scale(box, scale, image.shape, MARGIN * max(box[2], box[3]))


def plausible(box: tuple[int, int, int, int], shape: tuple[int, ...]) -> bool:
    """False for a small box against the image's edge: the garment fills the frame, so the
    "background" was the garment itself and the box a strip of floor."""
    x, y, w, h = box
    H, W = shape[:2]
    touches = x <= 1 or y <= 1 or x + w >= W - 1 or y + h >= H - 1
    return not (touches and w * h < 0.5 * H * W)


def to_bgr(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else image


def square_view(crop: np.ndarray, size: int, fill: np.ndarray) -> np.ndarray:
    """Pad the crop to a centred square with `fill` and resize it to size x size."""
    h, w = crop.shape[:2]
    side = max(h, w)
    top, left = (side - h) // 2, (side - w) // 2
    value = [float(v) for v in fill]
    square = cv2.copyMakeBorder(
        crop, top, side - h - top, left, side - w - left, cv2.BORDER_CONSTANT, value=value
    )
    interpolation = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    return cv2.resize(square, (size, size), interpolation=interpolation)


def photo_view(image: np.ndarray, size: int, find_box: bool = True) -> np.ndarray:
    """Any uint8 gray/BGR image -> (size, size, 3) uint8 RGB: the photo model's view.

    `find_box=False` keeps the whole image (already cropped, or `--raw`).
    """
    bgr = to_bgr(image)
    x, y, w, h = garment_box(bgr) if find_box else (0, 0, bgr.shape[1], bgr.shape[0])
    view = square_view(bgr[y : y + h, x : x + w], size, border_colour(bgr))
    return cv2.cvtColor(view, cv2.COLOR_BGR2RGB)
