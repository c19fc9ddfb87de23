"""Shared fixtures: real Fashion-MNIST bytes, real images, real TFLite models."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import cv2
import numpy as np
import pytest

from edgeclf.edge.datasets.fashion_mnist import load_split

ROOT = Path(__file__).resolve().parent.parent
MINI = ROOT / "tests" / "fixtures" / "fashion-mnist-mini"
EDGECLF = str(Path(sys.executable).with_name("edgeclf"))

# The edge-only environments (a Pi, CI's tflite-runtime venv) have no TensorFlow: what trains or
# converts skips there, and everything else runs against whichever TFLite runtime is installed.
HAS_TRAIN = find_spec("keras") is not None and find_spec("tensorflow") is not None
TRAIN_EXTRA = "needs the 'train' extra (TensorFlow, Keras): this environment is edge-only"
needs_train = pytest.mark.skipif(not HAS_TRAIN, reason=TRAIN_EXTRA)
# teach writes its model through the TFLite schema that ai-edge-litert ships; tflite-runtime has
# none (pi-smoke runs a taught model on tflite-runtime instead).
needs_schema = pytest.mark.skipif(
    find_spec("ai_edge_litert") is None,
    reason="teach writes models with ai-edge-litert's TFLite schema; this environment has "
    "tflite-runtime only",
)


@pytest.fixture(scope="session")
def test_split():
    """The full 10,000-image test split bundled with the package."""
    return load_split("test", download=False)


@pytest.fixture(scope="session")
def mini_dir() -> Path:
    return MINI


@pytest.fixture(scope="session")
def full_data_dir() -> Path:
    value = os.environ.get("EDGECLF_DATA_DIR")
    if not value or not (Path(value) / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip("full Fashion-MNIST not available: set EDGECLF_DATA_DIR")
    return Path(value)


def run_cli(
    *args: str, env: dict | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    """Run the installed `edgeclf` in a subprocess, as a user would."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [EDGECLF, *args],
        capture_output=True,
        text=True,
        errors="surrogateescape",  # file names that are not UTF-8 come back as they were
        env=full_env,
        cwd=cwd,
        timeout=600,
    )


def one_line(result) -> str:
    """A refusal as the brief asks: a non-zero exit and one line on stderr, no traceback."""
    assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    return result.stderr


def copy_without_card(model: Path, to: Path) -> Path:
    """A copy of a bundled model with the card inside it renamed away (the bytes keep their
    length): a model as `convert` made it before cards were embedded."""
    data = model.read_bytes()
    assert data.count(b"edgeclf_card") == 1
    to.write_bytes(data.replace(b"edgeclf_card", b"edgeclf_none"))
    return to


def bundled_card_for(copy: Path, bundled: Path) -> dict:
    """The bundled model's card, for a copy of it (its hash and size): a test edits it."""
    import hashlib
    import json

    card = json.loads(bundled.with_suffix(".json").read_text())
    card["sha256"] = hashlib.sha256(copy.read_bytes()).hexdigest()
    card["bytes"] = copy.stat().st_size
    return card


@pytest.fixture(scope="session")
def clip(tmp_path_factory, test_split) -> Path:
    """A short video of six test garments, ten frames each: a camera for serve and the fleet."""
    from edgeclf.edge.datasets.synthetic import write_demo_video

    path = tmp_path_factory.mktemp("clip") / "garments.mp4"
    write_demo_video(path, test_split.images[:6], frames_per_garment=10)
    return path


def write_png(path: Path, image: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), image)
    return path


TINY_RUN = {"arch": "tiny", "epochs": 3, "batch_size": 32, "warmup_epochs": 1, "erase_prob": 0.0}


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, mini_dir):
    """A tiny model trained for a few epochs on the mini fixture (real training, ~20 s)."""
    if not HAS_TRAIN:
        pytest.skip(TRAIN_EXTRA)
    from edgeclf.train.configs import FashionMnistConfig
    from edgeclf.train.trainer import train

    out = tmp_path_factory.mktemp("tiny-run")
    metrics = train(FashionMnistConfig(**TINY_RUN, data_dir=str(mini_dir)), out)
    return out, metrics


@pytest.fixture(scope="session")
def default_keras_model() -> Path:
    return ROOT / "models" / "fashion.keras"


@pytest.fixture(scope="session")
def converted(tmp_path_factory, default_keras_model, mini_dir):
    """The bundled Keras model converted with every I/O type and variant (real TFLite files)."""
    if not HAS_TRAIN:
        pytest.skip(TRAIN_EXTRA)
    from edgeclf.convert.converter import ConvertOptions, convert

    out = tmp_path_factory.mktemp("converted")
    models = {}
    for name, mode, io, flip_average in (
        ("int8", "int8", "int8", False),
        ("uint8", "int8", "uint8", False),
        ("int8_float_io", "int8", "float", False),
        ("float", "float", "float", False),
        ("int8_flip_average", "int8", "int8", True),
    ):
        path = out / f"{name}.tflite"
        opts = ConvertOptions(
            mode=mode,
            io=io,
            calib_samples=200,
            data_dir=str(mini_dir),
            max_drop=1.0,
            flip_average=flip_average,
        )
        models[name] = (path, convert(default_keras_model, path, opts))
    return models
