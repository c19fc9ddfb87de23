"""The input contract a model card carries: which recipe turns a photo into the model's view.

Two recipes:
- `fashion-mnist`: 28x28 gray, light garment on black, as the data set was made
  (recipes/fashion_mnist.py);
- `photo`: colour; the garment's box (or the whole image) padded to a square at the model's size
  (recipes/photo.py).

`card.py` reads a contract from a model card and writes it back.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .classes import CLASS_NAMES

FASHION_MNIST = "fashion-mnist"
PHOTO = "photo"
RECIPES = (FASHION_MNIST, PHOTO)
LEGACY_RECIPES = {"fashion-mnist-paper": FASHION_MNIST}


class InputContract(NamedTuple):
    """What a model's input is, and the recipe that turns a photo into it."""

    recipe: str = FASHION_MNIST
    size: int = 28
    channels: int = 1
    classes: tuple[str, ...] = CLASS_NAMES
    # The class that means "no garment here" (train --background-class), if the model has one.
    background: str | None = None

    def describe(self) -> str:
        """'64x64 colour, photo recipe': what a user compares between two models."""
        colour = "gray" if self.channels == 1 else "colour"
        return f"{self.size}x{self.size} {colour}, {self.recipe} recipe"

    @property
    def shape(self) -> tuple[int, ...]:
        """The view's shape: (size, size) for gray, (size, size, 3) for colour."""
        return (self.size, self.size) if self.channels == 1 else (self.size, self.size, 3)

    def view(self, image: np.ndarray, raw: bool = False) -> np.ndarray:
        """Any uint8 gray/BGR image -> the model's view; `raw` skips the box search and trimming."""
        if self.recipe == PHOTO:
            from ..recipes.photo import photo_view

            return photo_view(image, self.size, find_box=not raw)
        from ..recipes.fashion_mnist import preprocess, raw_input

        return raw_input(image) if raw else preprocess(image)
