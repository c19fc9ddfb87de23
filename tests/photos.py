"""Turn Fashion-MNIST test images into photo-like files: upscaled, dark-on-light, padded, coloured, JPEG."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

VARIANTS = ("png28", "upscaled", "inverted", "canvas", "colour_jpeg")


def make_variant(image: np.ndarray, variant: str, rng: np.random.Generator) -> np.ndarray:
    if variant == "png28":
        return image
    big = cv2.resize(image, (140, 140), interpolation=cv2.INTER_CUBIC)
    if variant == "upscaled":
        return big
    dark_on_light = 255 - big
    if variant == "inverted":
        return dark_on_light
    h, w = int(rng.integers(220, 400)), int(rng.integers(220, 400))
    canvas = np.full((h, w), int(rng.integers(215, 250)), np.uint8)
    y, x = int(rng.integers(0, h - 140)), int(rng.integers(0, w - 140))
    canvas[y : y + 140, x : x + 140] = np.minimum(canvas[y : y + 140, x : x + 140], dark_on_light)
    if variant == "canvas":
        return canvas
    tint = rng.uniform(0.6, 1.0, 3)
    bgr = cv2.cvtColor(canvas, cv2.COLOR_GRAY2BGR).astype(np.float32)
    garment = (canvas < canvas[0, 0] - 20)[..., None]
    return np.where(garment, bgr * tint, bgr).astype(np.uint8)


def write_variant(folder: Path, index: int, image: np.ndarray, variant: str, rng) -> Path:
    suffix = ".jpg" if variant == "colour_jpeg" else ".png"
    path = folder / variant / f"{index:05d}{suffix}"
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), make_variant(image, variant, rng))
    return path
