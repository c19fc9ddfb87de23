"""The shipped model must stay accurate and small: a regression cannot land."""

import json

import numpy as np
import pytest

from edgeclf.edge.runtime.classifier import FASHION_MODEL, MODELS_DIR, Classifier

from conftest import needs_train


def test_bundled_int8_model_accuracy_and_size(test_split):
    assert FASHION_MODEL.stat().st_size <= 100 * 1024
    probs = Classifier(FASHION_MODEL).predict(test_split.images, batch_size=500)
    accuracy = (probs.argmax(1) == test_split.labels).mean()
    assert len(test_split) == 10_000
    assert accuracy >= 0.935, accuracy


def test_bundled_card_and_float_model_ship_together():
    card = json.loads(FASHION_MODEL.with_suffix(".json").read_text())
    assert card["quantization"]["mode"] == "int8" and card["quantization"]["io"] == "int8"
    assert abs(card["accuracy"]["drop_points"]) <= 0.3
    assert (MODELS_DIR / card["source_model"]).is_file()


def test_full_training_split(full_data_dir):
    from edgeclf.edge.datasets.fashion_mnist import load_split

    train = load_split("train", full_data_dir)
    assert train.images.shape == (60_000, 28, 28)
    assert np.bincount(train.labels).tolist() == [6000] * 10


@pytest.mark.slow
@needs_train
def test_conversion_of_the_bundled_keras_model_reproduces_it(full_data_dir, tmp_path):
    """`convert` on models/fashion.keras with the recorded settings gives the bundled int8 model."""
    from edgeclf.convert.converter import ConvertOptions, convert

    card = json.loads(FASHION_MODEL.with_suffix(".json").read_text())
    out = tmp_path / "fashion_int8.tflite"
    calibration = card["quantization"]["calibration"]
    opts = ConvertOptions(
        calib_samples=calibration["samples"], seed=calibration["seed"], data_dir=str(full_data_dir)
    )
    report = convert(MODELS_DIR / card["source_model"], out, opts)
    assert report["tflite_accuracy"] == pytest.approx(
        card["accuracy"]["tflite_accuracy"], abs=0.001
    )
    assert report["float_accuracy"] == pytest.approx(card["accuracy"]["float_accuracy"], abs=1e-6)


def test_readme_results_quote_the_bundled_benchmark():
    """The docs' Results section exists and quotes the accuracy `bench` measured."""
    readme = (MODELS_DIR.parent / "docs" / "benchmarks.md").read_text()
    assert "\n## Results\n" in readme
    results = readme.split("\n## Results\n", 1)[1].split("\n## ", 1)[0]
    bench = json.loads((MODELS_DIR / "bench.json").read_text())
    assert f"{bench['accuracy']:.2%}".replace("%", " %") in results
    photo_bench = json.loads((MODELS_DIR / "photo_bench.json").read_text())
    assert f"**{photo_bench['accuracy']:.2%}**".replace("%", " %") in results
    images = MODELS_DIR.parent / "docs" / "img"
    assert "](img/bench.png)" in results and (images / "bench.png").is_file()
    assert "edgeclf bench --compare" in results and "edgeclf train" in results


def test_bundled_photo_model_is_small_int8_and_ships_its_sources():
    from edgeclf.convert.converter import check_all_int8
    from edgeclf.edge.runtime.classifier import PHOTO_MODEL

    assert PHOTO_MODEL.stat().st_size <= 512 * 1024
    clf = Classifier(PHOTO_MODEL)
    check_all_int8(clf)
    card = clf.card.report
    assert clf.card.contract.recipe == "photo" and card["input"]["dtype"] == "int8"
    assert (MODELS_DIR / card["source_model"]).is_file()
    assert (MODELS_DIR / "photo.card.json").is_file()
    assert card["accuracy"]["split"] == "real-photo validation"
    assert abs(card["accuracy"]["drop_points"]) <= 0.5  # int8 within half a point of float


@pytest.mark.slow
def test_bundled_photo_model_on_the_full_real_photo_validation_split(tmp_path):
    """Reproduces the card's real-photo accuracy on the sender-disjoint validation photos."""
    from edgeclf.edge.runtime.classifier import PHOTO_MODEL

    from conftest import ROOT, run_cli

    photos = ROOT.parent / "shared" / "data" / "clothing-photos"
    if not (photos / "labels.csv").is_file():
        pytest.skip("the clothing photos are not beside the repository (../shared)")
    card = json.loads(PHOTO_MODEL.with_suffix(".json").read_text())
    result = run_cli(
        "bench", "--model", str(PHOTO_MODEL), "--images", str(photos), "--split", "val",
        "--runs", "50", "--json", str(tmp_path / "bench.json"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "bench.json").read_text())
    assert report["n"] == card["accuracy"]["images"]
    import cv2

    if report["backend"] == "litert" and cv2.__version__.startswith("5."):  # as the card was made
        assert report["accuracy"] == pytest.approx(card["accuracy"]["tflite_accuracy"], abs=1e-9)
    else:  # tflite-runtime's kernels and OpenCV 4's resize flip a few borderline photos
        assert report["accuracy"] == pytest.approx(card["accuracy"]["tflite_accuracy"], abs=0.01)
    assert report["accuracy"] >= 0.85
