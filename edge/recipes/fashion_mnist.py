"""Turn a photo into a Fashion-MNIST-like 28x28 input, following the data set's own recipe.

Fashion-MNIST (arXiv:1708.07747, section 2) was made from product photos by: trimming borders close
to the corner colour, resizing the longest edge to 28, sharpening, padding the short edge to 28
around the centre, negating (garment light on black), and converting to 8-bit gray. This module does
the same with OpenCV, made robust for real photos: light or dark, plain or mildly busy backgrounds.
"""

from __future__ import annotations

import cv2
import numpy as np

from .finder import distance, enclosing, full_scale, regions, working_copy

SIZE = 28
WORK_SIDE = 256  # find the garment on a copy this size: fast, and blind to fine texture
MIN_CONTRAST = 24  # a pixel belongs to the garment if it differs this much from the background


def median(values: np.ndarray) -> float:
    """Median by partition (np.median pulls in numpy.ma, ~10 ms of every cold start)."""
    flat = values.ravel()
    return float(np.partition(flat, len(flat) // 2)[len(flat) // 2])


def to_gray(image: np.ndarray) -> np.ndarray:
    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def border_level(gray: np.ndarray) -> float:
    """Background level: median of a thin frame around the image (corners and edges)."""
    h, w = gray.shape
    t = max(1, min(h, w) // 20)
    frame = np.concatenate(
        [gray[:t].ravel(), gray[-t:].ravel(), gray[:, :t].ravel(), gray[:, -t:].ravel()]
    )
    return median(frame)


def is_fashion_mnist_like(gray: np.ndarray) -> bool:
    """Already a data-set crop: 28x28 with a dark frame. Such input passes through unchanged."""
    return gray.shape == (SIZE, SIZE) and border_level(gray) < 40


def garment_box(gray: np.ndarray, background: float) -> tuple[int, int, int, int]:
    """Bounding box (x, y, w, h) of what differs from the background, ignoring specks and clutter."""
    small, scale = working_copy(gray, WORK_SIDE)
    diff = distance(small, round(background))
    parts, _ = regions(diff, max(MIN_CONTRAST, median(diff) * 2))
    if not len(parts):  # nothing stands out: keep the whole image
        return 0, 0, gray.shape[1], gray.shape[0]
    areas = parts[:, cv2.CC_STAT_AREA]
    keep = parts[areas >= 0.08 * areas.max()]  # the garment and its sizeable parts, not clutter
    return full_scale(enclosing(keep), scale, gray.shape)


def sharpen(image: np.ndarray) -> np.ndarray:
    """Unsharp mask with a Gaussian of sigma 1, as in the data set's recipe."""
    blurred = cv2.GaussianBlur(image, (0, 0), 1.0)
    return cv2.addWeighted(image, 1.5, blurred, -0.5, 0)


def fit_to_square(crop: np.ndarray, background: float) -> np.ndarray:
    """Resize the longest edge to 28 and pad the short edge, centred, with the background level."""
    h, w = crop.shape
    scale = SIZE / max(h, w)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    resized = cv2.resize(
        crop, (new_w, new_h), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    )
    resized = sharpen(resized)
    top, left = (SIZE - new_h) // 2, (SIZE - new_w) // 2
    out = np.full((SIZE, SIZE), round(background), dtype=np.uint8)
    out[top : top + new_h, left : left + new_w] = resized
    return out


def to_light_on_black(square: np.ndarray, background: float) -> np.ndarray:
    """Map the background to 0 and the garment to light values, whatever the original polarity."""
    x = square.astype(np.float32)
    if background >= 128:  # light background: negate, as the data set did
        out = (background - x) * (255.0 / max(background, 1.0))
    else:
        out = (x - background) * (255.0 / max(255.0 - background, 1.0))
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def preprocess(image: np.ndarray) -> np.ndarray:
    """Any uint8 gray/BGR image -> 28x28 uint8, light garment on black (the model's view)."""
    gray = to_gray(image)
    if is_fashion_mnist_like(gray):
        return gray.copy()
    background = border_level(gray)
    x, y, w, h = garment_box(gray, background)
    square = fit_to_square(gray[y : y + h, x : x + w], background)
    return to_light_on_black(square, background)


def raw_input(image: np.ndarray) -> np.ndarray:
    """`--raw`: only gray and resize to 28x28, for inputs already in the data set's form."""
    gray = to_gray(image)
    if gray.shape != (SIZE, SIZE):
        gray = cv2.resize(gray, (SIZE, SIZE), interpolation=cv2.INTER_AREA)
    return gray
