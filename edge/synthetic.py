"""Synthetic camera frames and videos made from Fashion-MNIST garments (benchmarks, tests, demos)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from .atomic import atomic_path


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
