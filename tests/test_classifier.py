import json
import subprocess
import sys

import numpy as np
import pytest

from edgeclf.edge.errors import ModelError
from edgeclf.edge.runtime.backends import available_backends
from edgeclf.edge.runtime.classes import CLASS_NAMES
from edgeclf.edge.runtime.classifier import DEFAULT_MODEL, FASHION_MODEL, PHOTO_MODEL, Classifier

from conftest import ROOT, copy_without_card, run_cli, write_png


def test_every_command_and_the_api_default_to_the_photo_model(tmp_path):
    """One default: `Classifier()` and every edge command use the colour photo model."""
    assert DEFAULT_MODEL == PHOTO_MODEL and Classifier().path == PHOTO_MODEL
    image = str(next((ROOT / "tests" / "fixtures" / "photos" / "images").glob("*.jpg")))
    verbose = run_cli("classify", "-v", image)
    assert verbose.returncode == 0 and PHOTO_MODEL.name in verbose.stderr
    report = tmp_path / "bench.json"
    bench = run_cli("bench", "--limit", "20", "--runs", "10", "--json", str(report))
    assert bench.returncode == 0, bench.stderr
    assert json.loads(report.read_text())["model"] == str(PHOTO_MODEL)


def test_bundled_model_loads_with_its_card():
    clf = Classifier(FASHION_MODEL)
    assert clf.path == FASHION_MODEL and clf.card is not None
    assert clf.labels == CLASS_NAMES
    assert clf.input.dtype == np.int8 and clf.input.shape[1:] == (28, 28, 1)
    assert clf.input.scale == 1.0 and clf.input.zero_point == -128  # exactly pixel - 128
    assert clf.backend.name == available_backends()[0]  # the first runtime found, as documented


def test_quantization_is_pixel_minus_128():
    clf = Classifier(FASHION_MODEL)
    pixels = np.arange(256, dtype=np.uint8).reshape(1, 16, 16)
    assert np.array_equal(clf._lut[pixels].astype(int), pixels.astype(int) - 128)


def test_probabilities_are_a_distribution(test_split):
    probs = Classifier(FASHION_MODEL).predict(test_split.images[:50], batch_size=16)
    assert probs.shape == (50, 10)
    assert np.allclose(probs.sum(axis=1), 1.0, atol=0.03) and probs.min() >= 0


def test_batched_and_single_invokes_agree(test_split):
    clf = Classifier(FASHION_MODEL)
    images = test_split.images[:64]
    single = np.stack([clf.predict(im)[0] for im in images])
    assert np.array_equal(single, clf.predict(images, batch_size=32))


@pytest.mark.slow
def test_int8_uint8_float_io_agree(converted, test_split):
    images, labels = test_split.images[:1000], test_split.labels[:1000]
    preds = {}
    for name in ("int8", "uint8", "int8_float_io", "float"):
        clf = Classifier(converted[name][0])
        preds[name] = clf.predict(images, batch_size=100)
    assert Classifier(converted["uint8"][0]).input.dtype == np.uint8
    assert Classifier(converted["int8_float_io"][0]).input.dtype == np.float32
    # Same int8 graph behind int8 and uint8 I/O: identical decisions.
    assert np.array_equal(preds["int8"].argmax(1), preds["uint8"].argmax(1))
    assert (preds["int8"].argmax(1) == preds["int8_float_io"].argmax(1)).mean() >= 0.99
    assert (preds["int8"].argmax(1) == preds["float"].argmax(1)).mean() >= 0.98
    for p in preds.values():
        assert (p.argmax(1) == labels).mean() > 0.9


@pytest.mark.parametrize("backend", [b for b in available_backends() if b != "litert"])
def test_backends_agree_with_litert(backend, test_split):
    images = test_split.images[:300]
    reference = Classifier(FASHION_MODEL).predict(images, batch_size=100)
    other = Classifier(FASHION_MODEL, backend=backend)
    assert other.backend.name == backend
    assert np.array_equal(other.predict(images, batch_size=100).argmax(1), reference.argmax(1))


def test_bad_model_file_is_exit_2(tmp_path, test_split):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"this is not a flatbuffer" * 20)
    with pytest.raises(ModelError, match="not a usable TFLite model"):
        Classifier(bad)
    image = tmp_path / "x.png"
    import cv2

    cv2.imwrite(str(image), test_split.images[0])
    for model in (bad, tmp_path / "missing.tflite"):
        result = run_cli("classify", str(image), "--model", str(model))
        assert result.returncode == 2, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_card_hash_mismatch_is_refused(tmp_path):
    model = tmp_path / "m.tflite"
    model.write_bytes(FASHION_MODEL.read_bytes())
    card = json.loads(FASHION_MODEL.with_suffix(".json").read_text())
    card["sha256"] = "0" * 64
    model.with_suffix(".json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match="does not match"):
        Classifier(model)


def test_model_without_card_uses_default_labels(tmp_path, test_split):
    model = copy_without_card(FASHION_MODEL, tmp_path / "m.tflite")
    clf = Classifier(model)
    assert clf.card is None and clf.labels == CLASS_NAMES
    assert np.array_equal(
        clf.predict(test_split.images[:20]),
        Classifier(FASHION_MODEL).predict(test_split.images[:20]),
    )


def test_missing_or_wrong_delegate_is_a_clear_error(tmp_path, test_split):
    with pytest.raises(ModelError, match="cannot load delegate"):
        Classifier(delegate="/nonexistent/libedgetpu.so.1")
    with pytest.raises(ModelError, match="not a TFLite external delegate"):
        Classifier(delegate="libm.so.6")
    image = write_png(tmp_path / "x.png", test_split.images[0])
    result = run_cli("classify", str(image), "--delegate", "/nonexistent/libedgetpu.so.1")
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr


def test_threads_and_backend_options():
    clf = Classifier(threads=2, backend=available_backends()[0])
    assert clf.describe()["threads"] == 2
    with pytest.raises(ModelError, match="unknown backend"):
        Classifier(backend="onnx")


def test_classify_never_imports_tensorflow(tmp_path, test_split):
    import cv2

    image = tmp_path / "one.png"
    cv2.imwrite(str(image), test_split.images[0])
    probe = (
        "import sys\n"
        "from edgeclf.edge.cli.app import main\n"
        f"sys.argv = ['edgeclf', 'classify', {str(image)!r}, '--json']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'matplotlib', 'pydantic'))\n"
        "print('HEAVY', heavy)\n"
        "print('RICH', any(m.startswith('rich') for m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert "HEAVY []" in out and "RICH False" in out
    assert json.loads(out.splitlines()[0])["label"] in CLASS_NAMES


@pytest.mark.parametrize("threads", [1, 3])
def test_thread_count_reaches_the_interpreter(threads):
    """XNNPACK starts threads - 1 workers: the process's thread count shows what it was given."""
    probe = (
        "import os, numpy as np\n"
        "from edgeclf.edge.runtime.classifier import Classifier\n"
        "before = len(os.listdir('/proc/self/task'))\n"
        f"clf = Classifier(threads={threads})\n"
        "clf.predict(np.zeros(clf.contract.shape, np.uint8))\n"
        "print(len(os.listdir('/proc/self/task')) - before)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert int(out.stdout.split()[-1]) == threads - 1
