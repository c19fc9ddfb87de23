"""teach's numeric and format cores, on hand-made arrays and bytes: each test fails when its core
is broken in one line (class balancing dropped, L2 not chosen on validation, the labels file of the
wrong type, the decoded-bytes bound loosened). No subprocess, no photo folder: fast."""

import numpy as np
import pytest

from edgeclf.edge.errors import InputImageError
from edgeclf.edge.images import MAX_DECODED_BYTES, decode_image
from edgeclf.edge.runtime.classifier import PHOTO_MODEL, Classifier
from edgeclf.edge.teach.head import L2_CHOICES, accuracy, fit, fit_path, fit_tuned

from conftest import needs_schema


def blobs(seed: int, train: int, val: int, spread: float = 0.35, width: int = 64):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, spread, (3, width))
    y, vy = np.repeat(np.arange(3), train), np.repeat(np.arange(3), val)
    x = (centres[y] + rng.normal(0, 1, (len(y), width))).astype(np.float32)
    vx = (centres[vy] + rng.normal(0, 1, (len(vy), width))).astype(np.float32)
    return x, y, vx, vy


def test_every_class_weighs_the_same_however_many_photos_it_has():
    """Features that say nothing: a balanced head gives the small class its share, not 1/21."""
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (210, 16)).astype(np.float32)
    labels = np.array([0] * 200 + [1] * 10)
    head = fit(x, labels, 2, l2=1.0)
    share = head.probabilities(x)[:, 1].mean()
    assert 0.35 < share < 0.65, share


@pytest.mark.parametrize(("seed", "best"), [(0, 1e-3), (3, 1e-1)])
def test_the_l2_strength_is_the_one_that_scores_best_on_validation(seed, best):
    x, y, vx, vy = blobs(seed, train=10, val=60)
    scores = [accuracy(h, vx, vy) for h in fit_path(x, y, 3, L2_CHOICES)]
    assert L2_CHOICES[int(np.argmax(scores))] == best and scores.count(max(scores)) == 1
    assert fit_tuned(x, y, vx, vy, 3).l2 == best


def test_fitting_the_strengths_together_equals_fitting_each_alone():
    x, y, _, _ = blobs(1, train=20, val=0)
    together = fit_path(x, y, 3, L2_CHOICES)
    for l2, head in zip(L2_CHOICES, together, strict=True):
        alone = fit(x, y, 3, l2)
        assert np.allclose(head.weights, alone.weights, atol=1e-6)
        assert np.allclose(head.bias, alone.bias, atol=1e-6)


@needs_schema
@pytest.mark.parametrize("classes", [("hat", "shorts"), ("👒", "Ñandú", "jeans 2")])
def test_standard_labels_written_are_read_back_and_the_model_still_runs(tmp_path, classes):
    """The writer against the reader: the output's associated file of type TENSOR_AXIS_LABELS,
    and its lines in the appended zip; LiteRT runs the written model as before."""
    from edgeclf.edge.tflite.standard_metadata import (
        output_files,
        read_standard_labels,
        with_standard_labels,
    )

    base = PHOTO_MODEL.read_bytes()
    written = with_standard_labels(base, "test", "an image", classes)
    assert output_files(written) == [("labels.txt", 2)]  # 2: TENSOR_AXIS_LABELS in the schema
    assert read_standard_labels(written) == classes
    path = tmp_path / "m.tflite"
    path.write_bytes(written)
    image = np.full((64, 64, 3), 128, np.uint8)
    before, after = Classifier(PHOTO_MODEL), Classifier(path, card=Classifier(PHOTO_MODEL).card)
    assert np.array_equal(before.predict(before.view(image)), after.predict(after.view(image)))


def test_a_model_without_standard_labels_reads_none():
    from edgeclf.edge.tflite.standard_metadata import read_standard_labels

    assert read_standard_labels(b"TFL3" * 20) is None


def png_header(width: int, height: int, depth: int, colour: int) -> bytes:
    import struct
    import zlib

    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return (
        b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk))
    )


def test_an_image_over_the_decoded_bytes_bound_is_refused_from_its_header():
    """Under the pixel limit, but 16-bit RGBA: 8 bytes a pixel, over MAX_DECODED_BYTES."""
    side = int((MAX_DECODED_BYTES / 8) ** 0.5) + 100
    with pytest.raises(InputImageError, match=r"image too large \(\d+ MB decoded\)"):
        decode_image(png_header(side, side, 16, 6))


def tampered_banks(tmp_path):
    """The bundled bank changed seven ways: each must be one line, never a traceback."""
    from pathlib import Path

    source = Path(PHOTO_MODEL).with_name("photo_int8.bank.npz")
    with np.load(source) as saved:
        good = {k: saved[k] for k in saved.files}
    cases = {
        "missing key": {k: v for k, v in good.items() if k != "scale"},
        "wrong dtype": {**good, "features": good["features"].astype(np.float32)},
        "wrong width": {**good, "features": good["features"][..., :7]},
        "nan scale": {**good, "scale": np.float32("nan")},
        "bad zero point": {**good, "zero_point": np.int32(999)},
        "object array": {**good, "classes": np.array([{"a": 1}] * len(good["classes"]))},
        "counts unpaired": {**good, "counts": good["counts"][:3]},
    }
    for name, arrays in cases.items():
        folder = tmp_path / name.replace(" ", "-")
        folder.mkdir()
        model = folder / "photo_int8.tflite"
        model.write_bytes(Path(PHOTO_MODEL).read_bytes())
        with open(folder / "photo_int8.bank.npz", "wb") as f:
            np.savez(f, **arrays)
        yield name, model


@needs_schema
def test_a_tampered_bank_is_refused_in_one_line(tmp_path):
    from edgeclf.edge.errors import EdgeclfError
    from edgeclf.edge.teach.bank import load_bank

    seen = 0
    for name, model in tampered_banks(tmp_path):
        with pytest.raises(EdgeclfError, match="not a usable feature bank") as refused:
            load_bank(Classifier(model))
        assert "\n" not in str(refused.value), name
        seen += 1
    assert seen == 7


@needs_schema
@pytest.mark.parametrize("depth", [17, 5000])
def test_a_deeply_nested_card_is_one_line(tmp_path, depth):
    from edgeclf.edge.errors import ModelError
    from edgeclf.edge.tflite.model_file import with_metadata

    nested = b"[" * depth + b"]" * depth
    model = tmp_path / "deep.tflite"
    model.write_bytes(with_metadata(PHOTO_MODEL.read_bytes(), "edgeclf_card", nested))
    with pytest.raises(ModelError, match="the card inside it is unreadable .*nested"):
        Classifier(model)


def test_each_class_names_where_its_wrong_answers_went():
    from edgeclf.edge.teach.run import most_taken_for

    names = ("Trouser", "Dress", "shorts", "skirt")
    truth = np.array([2, 2, 2, 2, 3, 3, 3, 1])
    top = np.array([0, 0, 2, 3, 3, 1, 3, 1])  # shorts: 2 as Trouser, 1 as skirt; skirt: 1 Dress
    assert most_taken_for(top, truth, names) == {
        2: {"taken_for": "Trouser", "taken": 2},
        3: {"taken_for": "Dress", "taken": 1},
    }
    assert most_taken_for(truth, truth, names) == {}
