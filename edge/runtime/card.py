"""The model card: `MODEL.json` beside `MODEL.tflite`, with labels, the input contract and provenance.

The runtime trusts a card only if its SHA-256 matches the model bytes it describes.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..errors import ModelError, first_line

CARD_FORMAT = "edgeclf-model-card/1"


def card_path(model_path: Path) -> Path:
    return model_path.with_suffix(".json")


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_json_card(path: Path) -> dict | None:
    """A JSON object from `path`; None when there is no such file, one line when it is broken."""
    if not path.is_file():
        return None
    try:
        card = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"model card {path} is unreadable: {first_line(exc)}") from None
    if not isinstance(card, dict):
        raise ModelError(f"{path} is not a model card (not a JSON object)")
    return card


def load_card(model_path: Path, model_bytes: bytes) -> dict | None:
    """The card beside the model, checked against its bytes; None when there is no card."""
    path = card_path(model_path)
    card = read_json_card(path)
    if card is None:
        return None
    if card.get("format") != CARD_FORMAT:
        raise ModelError(f"{path} is not an edgeclf model card (format {CARD_FORMAT})")
    if card.get("sha256") != sha256_of(model_bytes):
        raise ModelError(
            f"model card {path.name} does not match {model_path.name} (SHA-256 differs): "
            "the model was replaced or the card belongs to another model; re-run convert"
        )
    labels = card.get("classes")
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise ModelError(f"model card {path} has no list of class names")
    return card


def training_card_path(keras_path: Path) -> Path:
    """`model.keras` -> `model.card.json`: the classes and input contract `train` hands `convert`."""
    return keras_path.with_name(f"{keras_path.stem}.card.json")
