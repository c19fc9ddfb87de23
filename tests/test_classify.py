import json

import cv2
import numpy as np
import pytest

from edgeclf.edge.errors import InputImageError
from edgeclf.edge.runtime.classes import CLASS_NAMES
from edgeclf.edge.runtime.classifier import FASHION_MODEL

from conftest import needs_train, run_cli, write_png
from photos import write_variant


@pytest.fixture(scope="module")
def photo_dir(tmp_path_factory, test_split):
    """Photo-like test images: 40 garments, each in every variant."""
    folder = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(1)
    truth = {}
    for i in range(40):
        for variant in ("canvas", "colour_jpeg"):
            truth[str(write_variant(folder, i, test_split.images[i], variant, rng))] = int(
                test_split.labels[i]
            )
    return folder, truth


def test_json_lines_schema_and_accuracy(photo_dir):
    folder, truth = photo_dir  # Fashion-MNIST garments made photo-like: the 28x28 model's domain
    result = run_cli("classify", str(folder), "--json", "--top-k", "3", "-m", str(FASHION_MODEL))
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == len(truth)
    for row in rows:
        assert set(row) == {"path", "label", "index", "score", "top_k", "ms"}
        assert row["label"] == CLASS_NAMES[row["index"]] == row["top_k"][0]["label"]
        assert len(row["top_k"]) == 3 and row["top_k"][0]["score"] >= row["top_k"][1]["score"]
    correct = sum(row["index"] == truth[row["path"]] for row in rows)
    assert correct / len(rows) >= 0.8
    summary = json.loads(result.stderr.strip().splitlines()[-1])
    assert sum(summary["summary"].values()) == len(rows) and summary["errors"] == 0


def test_table_output_with_counts(photo_dir):
    folder, truth = photo_dir
    result = run_cli(
        "classify", str(folder / "canvas" / "00000.png"), str(folder / "canvas" / "00001.png")
    )
    assert result.returncode == 0
    assert "runner-up" in result.stdout and "Per-class counts" in result.stdout
    assert "00000.png" in result.stdout


def test_bad_inputs_do_not_stop_the_batch(tmp_path, test_split):
    good = write_png(tmp_path / "good.png", test_split.images[0])
    (tmp_path / "text.png").write_text("hello, not an image")
    (tmp_path / "empty.jpg").write_bytes(b"")
    ok, jpg = cv2.imencode(".jpg", cv2.resize(test_split.images[0], (200, 200)))
    (tmp_path / "truncated.jpg").write_bytes(jpg.tobytes()[: len(jpg) // 2])
    png = cv2.imencode(".png", test_split.images[0])[1].tobytes()
    huge = png[:16] + (100_000).to_bytes(4, "big") + (100_000).to_bytes(4, "big") + png[24:]
    (tmp_path / "huge.png").write_bytes(huge)  # a header claiming 10 gigapixels
    args = [
        str(good),
        str(tmp_path / "missing.png"),
        *(str(tmp_path / n) for n in ("text.png", "empty.jpg", "truncated.jpg", "huge.png")),
    ]
    result = run_cli("classify", *args, "--json")
    assert result.returncode == 1
    rows = {json.loads(line)["path"]: json.loads(line) for line in result.stdout.splitlines()}
    assert "label" in rows[str(good)]
    expected = {
        "missing.png": "not found",
        "text.png": "not an image",
        "empty.jpg": "empty",
        "truncated.jpg": "truncated",
        "huge.png": "too large",
    }
    for name, words in expected.items():
        row = rows[str(tmp_path / name)]
        assert set(row) == {"path", "error"} and words in row["error"], row
    assert "Traceback" not in result.stderr
    table = run_cli("classify", *args)
    assert table.returncode == 1 and "error: empty file" in table.stdout


def test_globs_directories_and_save_input(tmp_path, test_split):
    for i in range(3):
        write_png(tmp_path / "in" / "sub" / f"g{i}.png", test_split.images[i])
    views = tmp_path / "views"
    result = run_cli(
        "classify",
        str(tmp_path / "in" / "**" / "g*.png"),
        "--json",
        "--save-input",
        str(views),
        "--model",
        str(FASHION_MODEL),  # the 28x28 recipe passes data-set crops through unchanged
    )
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.returncode == 0 and len(rows) == 3
    for row, i in zip(rows, range(3), strict=True):
        saved = cv2.imread(row["input_png"], cv2.IMREAD_GRAYSCALE)
        assert np.array_equal(saved, test_split.images[i])  # pass-through view
    nothing = run_cli("classify", str(tmp_path / "none*.png"), "--json")
    assert nothing.returncode == 1 and json.loads(nothing.stdout)["error"] == "no files match"


def catalog(tmp_path, test_split, wrong: int):
    """A shop catalog: folders per class, with `wrong` items filed in the wrong folder."""
    folder = tmp_path / "catalog"
    for i in range(20):
        label = int(test_split.labels[i])
        filed = (label + 1) % 10 if i < wrong else label
        write_png(
            folder / CLASS_NAMES[filed].replace("/", "-") / f"item{i}.png", test_split.images[i]
        )
    return folder


def test_expect_dirs_finds_mislabeled_items(tmp_path, test_split):
    folder = catalog(tmp_path, test_split, wrong=3)
    report = tmp_path / "mismatch.csv"
    result = run_cli(  # 28x28 data-set crops: the Fashion-MNIST model's own kind of image
        "classify", str(folder), "--expect-dirs", "--report", str(report), "-m", str(FASHION_MODEL)
    )
    assert result.returncode == 0, result.stderr
    assert "Catalog mismatches" in result.stdout
    lines = report.read_text().splitlines()
    assert lines[0] == "path,catalog,predicted,score"
    flagged = {line.split(",")[0].rsplit("/", 1)[-1] for line in lines[1:]}
    assert {"item0.png", "item1.png", "item2.png"} <= flagged
    scores = [float(line.rsplit(",", 1)[1]) for line in lines[1:]]
    assert scores == sorted(scores, reverse=True)


def test_expect_csv_and_unknown_labels(tmp_path, test_split):
    paths = [write_png(tmp_path / f"p{i}.png", test_split.images[i]) for i in range(4)]
    csv_path = tmp_path / "catalog.csv"
    rows = [f"{p.name},{CLASS_NAMES[int(test_split.labels[i])]}" for i, p in enumerate(paths)]
    rows[0] = f"{paths[0].name},Bag" if test_split.labels[0] != 8 else f"{paths[0].name},Trouser"
    csv_path.write_text("path,label\n" + "\n".join(rows) + "\n")
    report = tmp_path / "r.csv"
    result = run_cli(
        "classify",
        *map(str, paths),
        "--expect",
        str(csv_path),
        "--report",
        str(report),
        "-m",
        str(FASHION_MODEL),
    )
    assert result.returncode == 0
    assert len(report.read_text().splitlines()) == 2 and "p0.png" in report.read_text()
    csv_path.write_text(f"{paths[0].name},Hat\n")
    bad = run_cli("classify", str(paths[0]), "--expect", str(csv_path))
    assert (
        bad.returncode == 1
        and "unknown catalog label 'Hat'" in bad.stderr
        and "Ankle boot" in bad.stderr
    )


def jpeg_bomb() -> bytes:
    """631 bytes whose header claims 30000x30000 pixels (2.7 GB decoded)."""
    ok, data = cv2.imencode(".jpg", np.zeros((16, 16, 3), np.uint8))
    data = bytearray(data.tobytes())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = (30000).to_bytes(2, "big") * 2
    return bytes(data)


def test_decompression_bombs_are_refused_from_the_header(tmp_path, test_split):
    from edgeclf.edge.images import declared_size, decode_image

    (tmp_path / "a_bomb.jpg").write_bytes(jpeg_bomb())
    png16 = cv2.imencode(".png", np.zeros((8, 8, 4), np.uint16))[1].tobytes()
    deep = png16[:16] + (7999).to_bytes(4, "big") * 2 + png16[24:]  # 61 MP at 8 bytes a pixel
    assert declared_size(deep) == (7999, 7999, 8) and declared_size(jpeg_bomb())[:2] == (30000,) * 2
    with pytest.raises(InputImageError, match="too large"):
        decode_image(deep)
    write_png(tmp_path / "b_good.png", test_split.images[0])
    result = run_cli("classify", str(tmp_path), "--json")
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.returncode == 1 and "too large (900 megapixels)" in rows[0]["error"]
    assert rows[1]["label"]  # the batch went on
    assert "Traceback" not in result.stderr


def test_file_names_that_are_not_utf8(tmp_path, test_split):
    """`caf\\xe9.png` (Latin-1 bytes): views, reports and recordings keep the name, no crash."""
    import os
    import subprocess

    from conftest import EDGECLF

    folder = tmp_path / "T-shirt"
    folder.mkdir()
    name = os.fsdecode(b"caf\xe9")
    (folder / f"{name}.png").write_bytes(cv2.imencode(".png", test_split.images[0])[1].tobytes())
    views, report = tmp_path / "views", tmp_path / f"{name}.csv"
    result = subprocess.run(
        [EDGECLF, "classify", str(tmp_path), "--save-input", str(views), "--expect-dirs",
         "--report", str(report), "--model", str(FASHION_MODEL)],
        capture_output=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert b"caf\xe9.png" in result.stdout  # the table shows the name's own bytes
    assert os.listdir(os.fsencode(views)) == [b"caf\xe9.png"]
    assert report.read_bytes().startswith(b"path,catalog,predicted,score")
    assert b"Traceback" not in result.stderr


def test_catalog_csv_encodings_duplicates_and_strays(tmp_path, test_split):
    paths = [write_png(tmp_path / f"p{i}.png", test_split.images[i]) for i in range(2)]
    label = CLASS_NAMES[int(test_split.labels[0])]
    args = ("classify", str(paths[0]), "--model", str(FASHION_MODEL), "--expect")
    bom = tmp_path / "excel.csv"  # Excel's "CSV UTF-8": a BOM before the header
    bom.write_bytes(b"\xef\xbb\xbfpath,label\np0.png," + label.encode() + b"\nstray.png,Bag\n")
    result = run_cli(*args, str(bom))
    assert result.returncode == 0 and "Catalog mismatches: 0 of 1" in result.stdout
    assert (
        "1 catalog row(s) match no classified image" in result.stderr
        and "stray.png" in result.stderr
    )
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"path,label\ncaf\xe9.png,Bag\n")
    result = run_cli(*args, str(latin))
    assert (
        result.returncode == 1
        and "is not UTF-8" in result.stderr
        and "Traceback" not in result.stderr
    )
    twice = tmp_path / "twice.csv"
    twice.write_text(f"p0.png,{label}\np1.png,Bag\np0.png,Bag\n")
    result = run_cli(*args, str(twice))
    assert result.returncode == 1 and "listed twice (first on line 1)" in result.stderr


@needs_train
def test_blank_tiny_fifo_and_logits_models(tmp_path, test_split):
    import os

    import keras
    import tensorflow as tf

    blank = write_png(tmp_path / "blank.png", np.full((50, 50), 128, np.uint8))
    dot = write_png(tmp_path / "dot.png", np.zeros((1, 1), np.uint8))
    result = run_cli("classify", str(blank), str(dot), "--json")
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["error"] for r in rows] == ["no garment found (the image is blank)"] * 2
    fifo = tmp_path / "model.tflite"
    os.mkfifo(fifo)
    result = run_cli("classify", "--model", str(fifo), str(blank))
    assert result.returncode == 2 and "is not a model file" in result.stderr
    inputs = keras.Input((28, 28, 1))  # logits out, and no card to say so
    model = keras.Model(inputs, keras.layers.Dense(10)(keras.layers.Flatten()(inputs)))
    model.set_weights([w * 50 for w in model.get_weights()])
    logits = tmp_path / "logits.tflite"
    logits.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    good = write_png(tmp_path / "good.png", test_split.images[0])
    result = run_cli("classify", "--model", str(logits), str(good), "--json")
    score = json.loads(result.stdout.splitlines()[0])["score"]
    assert 0 < score <= 1, score


def test_output_paths_are_checked_before_the_work(tmp_path, test_split):
    """A bad --report, --save-input or --record fails at once, in one line, before any image."""
    image = write_png(tmp_path / "g.png", test_split.images[0])
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    (tmp_path / "folder.csv").mkdir()
    cases = [
        (("--expect-dirs", "--report", str(tmp_path / "folder.csv")), "is a folder"),
        (("--expect-dirs", "--report", str(a_file / "r.csv")), "exists and is not a folder"),
        (("--save-input", str(a_file)), "exists and is not a folder"),
    ]
    for args, words in cases:
        result = run_cli("classify", str(image), *args)
        assert result.returncode == 1 and words in result.stderr, (args, result.stderr)
        assert result.stdout == "" and "Traceback" not in result.stderr
    record = run_cli(
        "camera", "--source", str(image), "--headless", "--record", str(a_file / "out.mp4")
    )
    assert record.returncode == 1 and "--record" in record.stderr
