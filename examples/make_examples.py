"""Rebuild the sample photos in examples/: Fashion-MNIST test garments made photo-like.

Each class folder holds two pictures of one test garment: enlarged, dark on an off-white canvas
of a random size, and once more tinted and saved as JPEG. `make demo` classifies them.

    python examples/make_examples.py
"""

from pathlib import Path

import cv2
import numpy as np

from edgeclf.edge.datasets.fashion_mnist import load_split
from edgeclf.edge.runtime.classes import CLASS_NAMES

HERE = Path(__file__).parent


def photo(garment: np.ndarray, rng: np.random.Generator, colour: bool) -> np.ndarray:
    side = int(rng.integers(160, 240))
    big = 255 - cv2.resize(garment, (side, side), interpolation=cv2.INTER_CUBIC)
    h, w = side + int(rng.integers(40, 200)), side + int(rng.integers(40, 200))
    canvas = rng.normal(232, 5, (h, w)).clip(0, 255).astype(np.uint8)
    y, x = int(rng.integers(0, h - side)), int(rng.integers(0, w - side))
    canvas[y : y + side, x : x + side] = np.minimum(canvas[y : y + side, x : x + side], big)
    image = cv2.cvtColor(canvas, cv2.COLOR_GRAY2BGR)
    if colour:
        tint = rng.uniform(0.55, 1.0, 3)
        mask = (canvas < 200)[..., None]
        image = np.where(mask, image * tint, image).astype(np.uint8)
    return image


def main() -> None:
    test = load_split("test")
    rng = np.random.default_rng(2024)
    for index, name in enumerate(CLASS_NAMES):
        folder = HERE / name.split("/")[0].lower().replace(" ", "_")
        folder.mkdir(exist_ok=True)
        garment = test.images[np.flatnonzero(test.labels == index)[3]]
        cv2.imwrite(
            str(folder / "photo.jpg"),
            photo(garment, rng, colour=False),
            [cv2.IMWRITE_JPEG_QUALITY, 88],
        )
        cv2.imwrite(
            str(folder / "photo_colour.jpg"),
            photo(garment, rng, colour=True),
            [cv2.IMWRITE_JPEG_QUALITY, 88],
        )


if __name__ == "__main__":
    main()
