import hashlib
import json
import tempfile
from pathlib import Path

import numpy as np
import pytest

from conftest import TRAIN_EXTRA, run_cli

pytest.importorskip("keras", reason=TRAIN_EXTRA)

from edgeclf.convert.converter import ConvertOptions, QualityError, convert  # noqa: E402
from edgeclf.edge.runtime.classifier import Classifier  # noqa: E402

pytestmark = pytest.mark.slow


def assert_no_float_tensors(ops: list[dict]) -> None:
    for op in ops:
        assert not any(d.startswith("float") for d in op["dtypes"]), op


def test_int8_model_is_fully_integer(converted):
    path, report = converted["int8"]
    clf = Classifier(path)
    assert clf.input.dtype == np.int8 and clf.output.dtype == np.int8
    assert (clf.input.scale, clf.input.zero_point) == (1.0, -128)
    ops = clf.ops()
    assert {op["op"] for op in ops} >= {"CONV_2D", "MAX_POOL_2D", "FULLY_CONNECTED", "SOFTMAX"}
    assert_no_float_tensors(ops)
    assert report["model_bytes"] == path.stat().st_size < 100_000


def test_float_io_int8_model_has_only_boundary_float_ops(converted):
    ops = Classifier(converted["int8_float_io"][0]).ops()
    float_ops = {op["op"] for op in ops if any(d.startswith("float") for d in op["dtypes"])}
    assert float_ops == {"QUANTIZE", "DEQUANTIZE"}


def test_card_describes_the_model(converted):
    path, report = converted["int8"]
    card = json.loads(path.with_suffix(".json").read_text())
    assert card["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert card["classes"][9] == "Ankle boot" and len(card["classes"]) == 10
    assert card["input"] == {
        "shape": [1, 28, 28, 1],
        "dtype": "int8",
        "scale": 1.0,
        "zero_point": -128,
    }
    assert card["quantization"]["calibration"] == {
        "samples": 200,
        "seed": 0,
        "source": "train split, class-balanced",
    }
    assert card["accuracy"]["tflite_accuracy"] == report["tflite_accuracy"]
    assert {"tensorflow", "keras", "edgeclf"} <= set(card["versions"])
    assert card["preprocessing"]["pixel_range"] == [0, 255]


def test_int8_agrees_with_keras_on_real_test_images(default_keras_model, converted, test_split):
    import keras

    model = keras.models.load_model(default_keras_model)
    images = test_split.images[:3000]
    keras_pred = model.predict(
        images[..., None].astype("float32"), batch_size=500, verbose=0
    ).argmax(1)
    lite_pred = Classifier(converted["int8"][0]).predict(images, batch_size=500).argmax(1)
    assert (keras_pred == lite_pred).mean() >= 0.98


def test_flip_average_model_is_mirror_invariant_int8(converted, test_split):
    plain_path, _ = converted["int8"]
    path, report = converted["int8_flip_average"]
    clf, plain = Classifier(path), Classifier(plain_path)
    details = clf.ops()
    ops, plain_ops = [op["op"] for op in details], [op["op"] for op in plain.ops()]
    assert ops[:2] == ["REVERSE_V2", "CONCATENATION"] and "SPLIT" in ops
    assert ops.count("CONV_2D") == plain_ops.count("CONV_2D")  # one batch of two, not two graphs
    assert_no_float_tensors(details)
    # The views share the weights: the file grows by a few KB, not twice.
    assert report["model_bytes"] < 1.1 * plain_path.stat().st_size
    assert json.loads(path.with_suffix(".json").read_text())["flip_average"] is True

    images = test_split.images[:500]
    mirrored = images[:, :, ::-1]
    probs = clf.predict(images, batch_size=250)
    np.testing.assert_array_equal(probs, clf.predict(mirrored, batch_size=250))
    plain_probs = plain.predict(images, batch_size=250)
    plain_mirrored = plain.predict(mirrored, batch_size=250)
    assert not np.array_equal(plain_probs, plain_mirrored)
    # It is the average of the two views: it agrees with the plain model's averaged probabilities.
    averaged = (plain_probs + plain_mirrored).argmax(1)
    assert (probs.argmax(1) == averaged).mean() >= 0.98


def test_tiny_trained_model_converts_via_cli(tiny_run, tmp_path, mini_dir):
    out_dir, _ = tiny_run
    out, mirrored = tmp_path / "tiny.tflite", tmp_path / "tiny_flip.tflite"
    model = str(out_dir / "model.keras")
    args = ["--data-dir", str(mini_dir), "--calib-samples", "100", "--max-drop", "5"]
    logs_before = set(Path(tempfile.gettempdir()).glob("edgeclf-*.log"))
    result = run_cli("convert", model, "--int8", "-o", str(out), *args)
    assert result.returncode == 0, result.stderr
    assert set(Path(tempfile.gettempdir()).glob("edgeclf-*.log")) == logs_before  # no leftovers
    assert "TFLite acc" in result.stdout and out.exists() and out.with_suffix(".json").exists()
    assert Classifier(out).input.dtype == np.int8

    result = run_cli("convert", model, "--int8", "--flip-average", "-o", str(mirrored), *args)
    assert result.returncode == 0, result.stderr
    assert "each with its mirror" in result.stdout
    assert json.loads(mirrored.with_suffix(".json").read_text())["flip_average"] is True


def test_forced_bad_quantization_leaves_no_file(tiny_run, tmp_path, mini_dir):
    out_dir, _ = tiny_run
    out = tmp_path / "bad.tflite"
    result = run_cli(
        "convert",
        str(out_dir / "model.keras"),
        "--int8",
        "-o",
        str(out),
        "--data-dir",
        str(mini_dir),
        "--calib-samples",
        "50",
        "--max-drop",
        "-100",
    )
    assert result.returncode == 3 and "no model written" in result.stderr
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(QualityError):
        convert(
            out_dir / "model.keras",
            out,
            ConvertOptions(data_dir=str(mini_dir), calib_samples=50, max_drop=-100),
        )
    assert not out.exists()


def test_corrupt_or_wrong_keras_file(tmp_path, mini_dir):
    corrupt = tmp_path / "corrupt.keras"
    corrupt.write_bytes(b"PK\x03\x04 definitely not a model")
    result = run_cli("convert", str(corrupt), "--int8", "--data-dir", str(mini_dir))
    assert result.returncode == 2 and "not a readable Keras model" in result.stderr
    assert "Traceback" not in result.stderr
    missing = run_cli("convert", str(tmp_path / "none.keras"), "--int8")
    assert missing.returncode == 2 and "not found" in missing.stderr
    (tmp_path / "folder.tflite").mkdir()
    for out, words in (("folder.tflite", "is a folder"), ("m.json", "overwritten by its own card")):
        refused = run_cli("convert", str(corrupt), "--int8", "-o", str(tmp_path / out))
        assert refused.returncode == 1 and words in refused.stderr  # before any work

    import keras

    inputs = keras.Input((28, 28, 1))
    wrong = keras.Model(inputs, keras.layers.Dense(5)(keras.layers.Flatten()(inputs)))
    wrong.save(tmp_path / "five.keras")
    result = run_cli("convert", str(tmp_path / "five.keras"), "--int8", "--data-dir", str(mini_dir))
    assert result.returncode == 2 and "10 outputs" in result.stderr
