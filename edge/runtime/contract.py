"""The input contract a model card carries: which recipe turns a photo into the model's view.

Two recipes:
- `fashion-mnist`: 28x28 gray, light garment on black, as the data set was made (preprocess.py);
- `photo`: colour; the garment's box (or the whole image) padded to a square at the model's size
  (photo_recipe.py).

A card written before the contract existed describes a 28x28 Fashion-MNIST model, and loads as one.
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

    @classmethod
    def from_card(cls, card: dict | None) -> InputContract:
        if not card:
            return cls()
        pre = card.get("preprocessing") or {}
        recipe = LEGACY_RECIPES.get(pre.get("recipe"), pre.get("recipe", FASHION_MNIST))
        if recipe not in RECIPES:
            raise ValueError(f"unknown preprocessing recipe {recipe!r}")
        background = card.get("background_class")
        if background is not None and background not in (card.get("classes") or ()):
            raise ValueError(f"background class {background!r} is not one of the card's classes")
        size = pre.get("size", [28, 28])
        return cls(
            recipe=recipe,
            size=int(size[0] if isinstance(size, list) else size),
            channels=int(pre.get("channels", 3 if recipe == PHOTO else 1)),
            classes=tuple(card.get("classes") or CLASS_NAMES),
            background=background,
        )

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

    def to_card(self) -> dict:
        """The card's `preprocessing` entry."""
        if self.recipe == PHOTO:
            description = (
                f"{self.size}x{self.size} RGB, raw pixel values 0-255; the model rescales inside. "
                "Photos: find the garment's box (looking inside a plain sheet it lies on, ignoring "
                "clutter beside it), pad it to a centred square with the border colour, resize."
            )
        else:
            description = (
                "28x28 grayscale, light garment on a black background, raw pixel values 0-255; the "
                "model rescales inside. Photos: trim background-coloured borders, resize the "
                "longest edge to 28, sharpen, pad to 28x28 centred, negate so the garment is "
                "light on black."
            )
        return {
            "recipe": self.recipe,
            "description": description,
            "size": [self.size, self.size],
            "channels": self.channels,
            "channel_order": "RGB" if self.channels == 3 else "gray",
            "pixel_range": [0, 255],
        }
