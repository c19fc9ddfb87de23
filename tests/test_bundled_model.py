"""The shipped model must stay accurate and small: a regression cannot land."""

import json

from edgeclf.edge.classifier import DEFAULT_MODEL, MODELS_DIR, Classifier


def test_bundled_int8_model_accuracy_and_size(test_split):
    assert DEFAULT_MODEL.stat().st_size <= 100 * 1024
    probs = Classifier().predict(test_split.images, batch_size=500)
    accuracy = (probs.argmax(1) == test_split.labels).mean()
    assert len(test_split) == 10_000
    assert accuracy >= 0.935, accuracy


def test_bundled_card_and_float_model_ship_together():
    card = json.loads(DEFAULT_MODEL.with_suffix(".json").read_text())
    assert card["quantization"]["mode"] == "int8" and card["quantization"]["io"] == "int8"
    assert abs(card["accuracy"]["drop_points"]) <= 0.3
    assert (MODELS_DIR / card["source_model"]).is_file()
