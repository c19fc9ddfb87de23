import json

import numpy as np
import pytest

from edgeclf.edge.datasets.fashion_mnist import balanced_subset
from edgeclf.edge.runtime.backends import available_backends
from edgeclf.edge.runtime.classifier import FASHION_MODEL

from conftest import needs_train, run_cli

try:  # a bare interpreter of the runtime installed, sharing no code with edgeclf
    from ai_edge_litert.interpreter import Interpreter
except ImportError:
    from tflite_runtime.interpreter import Interpreter

KEYS = {
    "accuracy",
    "n",
    "per_class",
    "latency_us",
    "model_bytes",
    "peak_rss_mb",
    "backend",
    "threads",
}


def independent_correct(model_path, images, labels) -> int:
    """Count correct predictions with a bare LiteRT interpreter, sharing no code with edgeclf."""
    it = Interpreter(model_path=str(model_path))
    it.allocate_tensors()
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    correct = 0
    for image, label in zip(images, labels, strict=True):
        it.set_tensor(
            inp["index"], (image.astype(np.int16) - 128).astype(np.int8).reshape(1, 28, 28, 1)
        )
        it.invoke()
        correct += int(it.get_tensor(out["index"])[0].argmax() == label)
    return correct


def test_accuracy_matches_an_independent_count_and_schema_holds(tmp_path, test_split):
    report_path = tmp_path / "bench.json"
    result = run_cli(
        "bench", "--model", str(FASHION_MODEL), "--limit", "1000", "--runs", "200",
        "--json", str(report_path), "--threads", "1,2",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(report_path.read_text())
    assert set(report) >= KEYS
    assert set(report["latency_us"]) == {"p50", "p90", "p99", "mean"}
    assert 0 < report["latency_us"]["p50"] <= report["latency_us"]["p99"]
    assert set(report["thread_sweep"]) == {"1", "2"}
    assert report["backend"] == available_backends()[0] and report["threads"] == 1
    assert report["model_bytes"] == FASHION_MODEL.stat().st_size
    assert report["flip_average"] is False
    keep = balanced_subset(test_split.labels, 1000, seed=0)
    correct = independent_correct(FASHION_MODEL, test_split.images[keep], test_split.labels[keep])
    assert report["n"] == 1000 and report["correct"] == correct
    assert report["accuracy"] == pytest.approx(correct / 1000)
    assert (
        np.array(report["confusion"]).sum(axis=1).tolist() == [100] * 10
    )  # --limit is class-balanced
    assert report["preprocess_us"]["p50"] > 0 and report["python_overhead_us"] is not None
    assert "top-1 accuracy" in result.stdout


@pytest.mark.slow
def test_compare_two_real_models(tmp_path, converted):
    int8, float32 = converted["int8"][0], converted["float"][0]
    out = tmp_path / "compare.json"
    result = run_cli(
        "bench",
        "--compare",
        str(float32),
        str(int8),
        "--limit",
        "300",
        "--runs",
        "100",
        "--json",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    assert (
        "float.tflite" in result.stdout
        and "int8.tflite" in result.stdout
        and "speed x" in result.stdout
    )
    reports = json.loads(out.read_text())["models"]
    assert [r["input_dtype"] for r in reports] == ["float32", "int8"]
    assert reports[1]["model_bytes"] < reports[0]["model_bytes"] / 3


@pytest.mark.slow
def test_flip_average_model_is_labelled(tmp_path, converted):
    out = tmp_path / "flip.json"
    model = converted["int8_flip_average"][0]
    result = run_cli(
        "bench", "-m", str(model), "--limit", "200", "--runs", "50", "--json", str(out)
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(out.read_text())["flip_average"] is True
    assert "each image also runs mirrored" in result.stdout


@pytest.mark.slow
def test_reference_agreement(tmp_path, converted):
    out = tmp_path / "ref.json"
    result = run_cli(
        "bench",
        "--model",
        str(FASHION_MODEL),
        "--reference",
        str(converted["float"][0]),
        "--limit",
        "500",
        "--runs",
        "50",
        "--json",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    ref = json.loads(out.read_text())["reference"]
    assert ref["agreement"] >= 0.98 and abs(ref["delta_points"]) < 1.0


def test_plot_is_written(tmp_path):
    plot = tmp_path / "bench.png"
    result = run_cli(
        "bench",
        "--model",
        str(FASHION_MODEL),
        "--limit",
        "100",
        "--runs",
        "50",
        "--plot",
        str(plot),
    )
    assert result.returncode == 0 and plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_model_and_bad_data_leave_no_json(tmp_path, mini_dir):
    out = tmp_path / "r.json"
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"\0" * 100)
    cases = [
        (("--model", str(bad)), "not a usable TFLite model"),
        (("--model", str(tmp_path / "none.tflite")), "model not found"),
    ]
    corrupt = tmp_path / "data"
    corrupt.mkdir()
    (corrupt / "t10k-images-idx3-ubyte.gz").write_bytes(b"garbage")
    (corrupt / "t10k-labels-idx1-ubyte.gz").write_bytes(
        (mini_dir / "t10k-labels-idx1-ubyte.gz").read_bytes()
    )
    cases.append((("--data-dir", str(corrupt)), "corrupt or truncated"))
    for args, message in cases:
        result = run_cli("bench", *args, "--json", str(out), "--runs", "20")
        assert result.returncode == 2, result.stderr
        assert message in result.stderr and "Traceback" not in result.stderr
        assert not out.exists() and list(tmp_path.glob(".r*")) == []


@pytest.mark.slow
@needs_train
def test_model_with_wrong_input_shape_is_refused(tmp_path):
    import keras
    import tensorflow as tf

    inputs = keras.Input((32, 24, 3))  # neither 28x28 gray nor a square colour photo
    model = keras.Model(inputs, keras.layers.Dense(10)(keras.layers.Flatten()(inputs)))
    path = tmp_path / "rgb.tflite"
    path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    result = run_cli("bench", "--model", str(path), "--runs", "20")
    assert result.returncode == 2 and "expected fashion-mnist views of [28, 28, 1]" in result.stderr
