"""Synthetic camera frames and videos made from Fashion-MNIST garments (benchmarks, tests, demos)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..atomic import atomic_path


def garment_frame(
    garment: np.ndarray,
    size: tuple[int, int] = (640, 480),
    centre: tuple[int, int] | None = None,
    side: int = 280,
    seed: int = 0,
) -> np.ndarray:
    """A BGR frame: the garment, dark on a light and slightly noisy background, like a photo."""
    w, h = size
    rng = np.random.default_rng(seed)
    frame = rng.normal(225, 6, (h, w, 3)).clip(0, 255).astype(np.uint8)
    big = cv2.resize(255 - garment, (side, side), interpolation=cv2.INTER_CUBIC)
    cx, cy = centre or (w // 2, h // 2)
    x, y = cx - side // 2, cy - side // 2
    region = frame[y : y + side, x : x + side]
    frame[y : y + side, x : x + side] = np.minimum(region, big[..., None])
    return frame


def write_demo_video(
    path: Path,
    garments: np.ndarray,
    frames_per_garment: int = 5,
    size: tuple[int, int] = (640, 480),
    fps: float = 15.0,
) -> int:
    """An .mp4 showing each garment for a few frames, drifting inside the centred square ROI.

    Returns the number of frames written.
    """
    w, h = size
    writer = None
    count = 0
    with atomic_path(path) as tmp:
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
        for g, garment in enumerate(garments):
            for f in range(frames_per_garment):
                shift = (f - frames_per_garment // 2) * 12
                centre = (w // 2 + shift, h // 2 - shift // 2)
                side = 240 + 10 * ((g + f) % 5)
                writer.write(garment_frame(garment, size, centre, side, seed=count))
                count += 1
        writer.release()
    return count


def render_photo(garment: np.ndarray, rng: np.random.Generator, side: int = 128) -> np.ndarray:
    """A Fashion-MNIST crop (light on black) as a colour photo: a tinted garment with its shading,
    on a floor- or sheet-coloured, unevenly lit, noisy background, saved as JPEG (BGR)."""
    background = np.clip(rng.uniform(40, 245) + rng.normal(0, 25, 3), 0, 255)  # floors, sheets
    garment_colour = rng.uniform(10, 245, 3)
    while np.abs(garment_colour - background).max() < 70:  # a garment that can be told apart
        garment_colour = rng.uniform(10, 245, 3)
    size = int(side * rng.uniform(0.55, 0.9))
    shade = cv2.resize(garment, (size, size), interpolation=cv2.INTER_CUBIC).astype(np.float32)
    shade = np.clip(shade, 0, 255)[..., None] / 255.0
    alpha = np.clip(shade * 3.0, 0, 1)
    canvas = np.empty((side, side, 3), np.float32)
    canvas[:] = background
    light = np.linspace(rng.uniform(0.8, 1.0), rng.uniform(1.0, 1.15), side, dtype=np.float32)
    canvas *= light[None, :, None] if rng.random() < 0.5 else light[:, None, None]
    x, y = (int(rng.integers(0, side - size + 1)) for _ in range(2))
    patch = canvas[y : y + size, x : x + size]
    cloth = garment_colour * (0.5 + 0.5 * shade)
    canvas[y : y + size, x : x + size] = patch * (1 - alpha) + cloth * alpha
    canvas += rng.normal(0, rng.uniform(2, 8), canvas.shape)
    image = np.clip(canvas, 0, 255).astype(np.uint8)
    if rng.random() < 0.3:
        image = cv2.GaussianBlur(image, (3, 3), 0)
    quality = int(rng.integers(50, 95))
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(data, cv2.IMREAD_COLOR) if ok else image
