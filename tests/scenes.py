"""Test scenes for the photo recipe, built from real photos: real fabric cut to a garment's shape,
lying on a sheet, towel or paper that lies on a table, with clutter beside it."""

from __future__ import annotations

import cv2
import numpy as np


def fabric(photo: np.ndarray, side: int) -> np.ndarray:
    """A square of real fabric from the middle of a garment photo."""
    h, w = photo.shape[:2]
    s = min(h, w) // 3
    patch = photo[h // 2 - s // 2 : h // 2 + s // 2, w // 2 - s // 2 : w // 2 + s // 2]
    return cv2.resize(patch, (side, side), interpolation=cv2.INTER_CUBIC)


def table(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A wood-like table: a base colour with grain stripes and noise."""
    h, w = shape
    base = rng.uniform(60, 140, 3)
    grain = 12 * np.sin(np.linspace(0, rng.uniform(20, 40), h))[:, None, None]
    img = base + grain + rng.normal(0, 4, (h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def scene(
    photo: np.ndarray,
    silhouette: np.ndarray,
    rng: np.random.Generator,
    sheet: bool = True,
    clutter: bool = False,
) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A 480x640 BGR scene and the garment's true box (x, y, w, h).

    The garment is `photo`'s fabric in the shape of `silhouette` (a 28x28 Fashion-MNIST crop).
    """
    h, w = 480, 640
    image = table((h, w), rng)
    if sheet:  # a plain sheet, unlike the table, covering most of the frame
        sx, sy = int(rng.integers(40, 90)), int(rng.integers(30, 70))
        colour = rng.uniform(185, 245, 3)
        image[sy : h - sy, sx : w - sx] = np.clip(
            colour + rng.normal(0, 3, (h - 2 * sy, w - 2 * sx, 3)), 0, 255
        )
    side = int(rng.integers(200, 260))
    mask = cv2.resize(silhouette, (side, side), interpolation=cv2.INTER_LINEAR) > 40
    cloth = fabric(photo, side)
    x = w // 2 - side // 2 + int(rng.integers(-40, 40))
    y = h // 2 - side // 2 + int(rng.integers(-20, 20))
    region = image[y : y + side, x : x + side]
    region[mask] = cloth[mask]
    if clutter:  # a dark mug or phone in a corner of the sheet, away from the garment
        cx = 115 if x > w // 2 - side // 2 else w - 115
        cv2.circle(image, (cx, 110), 22, (30, 30, 30), -1)
    ys, xs = np.nonzero(mask)
    return image, (x + xs.min(), y + ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1)


def iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    ax1, ay1, bx1, by1 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    iw = max(0, min(ax1, bx1) - max(a[0], b[0]))
    ih = max(0, min(ay1, by1) - max(a[1], b[1]))
    inter = iw * ih
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)
