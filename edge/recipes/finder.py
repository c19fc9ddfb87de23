"""Finding what stands out from a background, shared by both recipes: a small blurred working copy,
a mask of the pixels far enough from the background colour, cleaned, and its connected regions.
Each recipe then picks the garment among the regions its own way (recipes/photo.py,
recipes/fashion_mnist.py)."""

from __future__ import annotations

import cv2
import numpy as np

Box = tuple[int, int, int, int]


def working_copy(image: np.ndarray, side: int) -> tuple[np.ndarray, float]:
    """`image` shrunk to at most `side` pixels and blurred: fast, and blind to fine texture;
    with the scale it was shrunk by."""
    h, w = image.shape[:2]
    scale = min(1.0, side / max(h, w))
    small = cv2.resize(
        image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA
    )
    return cv2.GaussianBlur(small, (3, 3), 0), scale


def distance(small: np.ndarray, background) -> np.ndarray:
    """Per pixel, how far it is from the background (the largest channel difference)."""
    diff = np.abs(small.astype(np.int16) - np.asarray(background).astype(np.int16))
    return (diff.max(axis=2) if diff.ndim == 3 else diff).astype(np.uint8)


def regions(diff: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """The connected regions of pixels over `threshold` (specks opened away, gaps closed):
    their stats (x, y, w, h, area) and centroids."""
    mask = (diff > threshold).astype(np.uint8)
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    _, _, stats, centroids = cv2.connectedComponentsWithStats(mask, connectivity=8)
    return stats[1:], centroids[1:]


def enclosing(parts: np.ndarray) -> Box:
    """The box around all of `parts`."""
    x0, y0 = parts[:, 0].min(), parts[:, 1].min()
    x1, y1 = (parts[:, 0] + parts[:, 2]).max(), (parts[:, 1] + parts[:, 3]).max()
    return int(x0), int(y0), int(x1 - x0), int(y1 - y0)


def full_scale(box: Box, scale: float, shape: tuple[int, ...], margin: float = 0.0) -> Box:
    """A box on the working copy, with `margin` pixels around it, in the original image."""
    x, y, w, h = box
    H, W = shape[:2]
    inv = 1.0 / scale
    x0, y0 = max(0, int(np.floor((x - margin) * inv))), max(0, int(np.floor((y - margin) * inv)))
    x1, y1 = (
        min(W, int(np.ceil((x + w + margin) * inv))),
        min(H, int(np.ceil((y + h + margin) * inv))),
    )
    return x0, y0, max(1, x1 - x0), max(1, y1 - y0)
