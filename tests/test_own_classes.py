"""Teaching your own classes: collect from a camera (a video file here), fine-tune the bundled photo
model's features, convert, classify with the card's class names."""

import csv
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from edgeclf.edge.datasets.synthetic import write_demo_video
from edgeclf.edge.runtime.classifier import PHOTO_MODEL, Classifier

from conftest import ROOT, needs_train, run_cli

PHOTOS = ROOT / "tests" / "fixtures" / "photos"
NO_GARMENT = ROOT / "tests" / "fixtures" / "no-garment"  # floors and beds beside real garments
GROUPS = {"tops": ("T-Shirt", "Polo", "Longsleeve"), "trousers": ("Pants",), "shoes": ("Shoes",)}


@pytest.fixture(scope="module")
def video(tmp_path_factory, test_split):
    path = tmp_path_factory.mktemp("collect") / "garments.mp4"
    write_demo_video(path, test_split.images[:6], frames_per_garment=10)
    return path


def test_collect_saves_complete_jpegs_and_never_overwrites(tmp_path, video):
    out = tmp_path / "mine"
    args = ["camera", "--source", str(video), "--headless", "--collect", str(out)]
    first = run_cli(*args, "--classes", "jeans,chinos", "--label", "chinos", "--every", "5")
    assert first.returncode == 0, first.stderr
    saved = sorted((out / "chinos").iterdir())
    assert len(saved) == 12 and not (out / "jeans").exists()  # 60 frames, every 5th
    assert all(
        p.read_bytes()[:2] == b"\xff\xd8" and p.read_bytes()[-2:] == b"\xff\xd9" for p in saved
    )
    assert "chinos 12" in first.stderr
    # Headless collection prints its progress, not the bundled model's guesses.
    assert first.stdout == "" and "chinos: 12 saved" in first.stderr
    counted = run_cli(*args, "--label", "jeans", "--every", "5", "--max-frames", "20")
    assert counted.returncode == 0 and "jeans: 4/4 saved" in counted.stderr
    assert len(list((out / "jeans").iterdir())) == 4
    keys_only = run_cli(*args, "--classes", "jeans,chinos")  # keys 1-9 need a window
    assert (
        keys_only.returncode == 1 and "--collect without a window saves nothing" in keys_only.stderr
    )
    second = run_cli(*args, "--label", "chinos", "--every", "5")  # classes from the folders
    assert second.returncode == 0 and len(list((out / "chinos").iterdir())) == 24
    assert not list(out.rglob(".edgeclf-tmp-*"))
    refused = run_cli(*args, "--classes", "jeans,chinos", "--label", "shorts")
    assert refused.returncode == 1 and "not one of --classes jeans, chinos" in refused.stderr
    lone = run_cli("camera", "--source", str(video), "--headless", "--label", "x")
    assert lone.returncode == 1 and "go with --collect" in lone.stderr


def own_folder(tmp_path: Path) -> Path:
    """The committed real photos refiled under three class names of a shop's own."""
    folder = tmp_path / "shop"
    with open(PHOTOS / "labels.csv", newline="") as f:
        for row in csv.DictReader(f):
            for name, labels in GROUPS.items():
                if row["label"] in labels:
                    (folder / name).mkdir(parents=True, exist_ok=True)
                    shutil.copy(PHOTOS / "images" / f"{row['image']}.jpg", folder / name)
    return folder


@pytest.mark.slow  # starts TensorFlow (or waits out timeouts): not the inner loop
@needs_train
def test_bad_class_folders_fail_before_training(tmp_path):
    folder = own_folder(tmp_path)
    args = ["train", "--photos", str(folder), "--classes-from-folders", "--epochs", "1"]
    result = run_cli(*args, "--background-class", "floor", "-o", str(tmp_path / "d"))
    assert result.returncode == 1 and "--background-class 'floor' is not one of" in result.stderr
    teacher = ["--teacher", str(ROOT / "models" / "photo.keras")]
    for run_args in (args, args[:3]):  # own classes, and a photo model of the ten classes
        result = run_cli(*run_args, *teacher, "-o", str(tmp_path / "t"))
        assert result.returncode == 1 and "does not work with --photos" in result.stderr
        assert not (tmp_path / "t").exists()
    (folder / "empty").mkdir()
    result = run_cli(*args, "-o", str(tmp_path / "a"))
    assert result.returncode == 2 and "no photos for class(es) empty" in result.stderr
    (folder / "empty").rmdir()
    (folder / "shoes" / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    result = run_cli(*args, "-o", str(tmp_path / "b"))
    assert result.returncode == 2 and "unreadable image(s)" in result.stderr
    for name in ("shoes", "trousers"):
        shutil.rmtree(folder / name)
    result = run_cli(*args, "-o", str(tmp_path / "c"))
    assert result.returncode == 1 and "1 class(es); teaching needs 2 to 100" in result.stderr
    assert not (tmp_path / "a" / "model.keras").exists()


@pytest.mark.slow
@needs_train
def test_fine_tune_convert_classify_with_own_names(tmp_path):
    folder = own_folder(tmp_path)
    frames = sorted(NO_GARMENT.iterdir())
    (folder / "nothing").mkdir()
    for frame in frames[::2]:  # the other half is kept for bench --no-garment
        shutil.copy(frame, folder / "nothing")
    held_out = tmp_path / "empty"
    held_out.mkdir()
    for frame in frames[1::2]:
        shutil.copy(frame, held_out)
    run = tmp_path / "run"
    result = run_cli(
        "train", "--photos", str(folder), "--classes-from-folders", "--epochs", "24",
        "--batch-size", "8", "--background-class", "nothing", "--out", str(run),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    counts = re.search(r"photos per class \(train\+validation\): (.*)", result.stdout)[1]
    split = {
        name: tuple(map(int, n.split("+"))) for name, n in (c.split() for c in counts.split(", "))
    }
    assert {name: t + v for name, (t, v) in split.items()} == {
        "nothing": 14, "shoes": 5, "tops": 12, "trousers": 5
    }  # fmt: skip
    assert all(t >= 1 and v >= 1 for t, v in split.values())  # every class trains and validates
    assert "fewer than 20 photos" in result.stderr
    card = json.loads((run / "model.card.json").read_text())
    assert card["classes"] == ["nothing", "shoes", "tops", "trousers"]
    assert card["class_counts"] == {"nothing": 14, "shoes": 5, "tops": 12, "trousers": 5}
    assert card["background_class"] == "nothing"
    model = tmp_path / "shop_int8.tflite"
    result = run_cli(
        "convert", str(run / "model.keras"), "--int8", "--max-drop", "100", "-o", str(model)
    )
    assert result.returncode == 0, result.stderr
    clf = Classifier(model)
    assert clf.labels == ("nothing", "shoes", "tops", "trousers")
    alone = tmp_path / "alone" / "copied.tflite"  # copied without its card: it carries one
    alone.parent.mkdir()
    shutil.copy(model, alone)
    assert Classifier(alone).labels == clf.labels and Classifier(alone).contract == clf.contract
    assert clf.contract.background == "nothing"
    assert clf.input.shape[1:] == Classifier(PHOTO_MODEL).input.shape[1:]
    result = run_cli("classify", "--model", str(model), str(folder), "--json")
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    right = [Path(r["path"]).parent.name == r["label"] for r in rows]
    assert len(rows) == 36 and {r["label"] for r in rows} <= set(clf.labels)
    assert np.mean(right) >= 0.7  # chance is a quarter
    report = tmp_path / "bench.json"
    bench = run_cli(
        "bench", "--model", str(model), "--images", str(folder), "--no-garment", str(held_out),
        "--runs", "20", "--json", str(report),
    )  # fmt: skip
    assert bench.returncode == 0, bench.stderr
    alarms = json.loads(report.read_text())["no_garment"]
    assert alarms["background_class"] == "nothing" and alarms["frames"] == 14
    # Even with no threshold, empty frames the model never saw are mostly called "nothing".
    assert alarms["rates"][0]["false_alarms"] <= 0.5
    audit = run_cli("classify", "--model", str(model), str(folder), "--expect-dirs")
    assert audit.returncode == 0 and "Catalog mismatches" in audit.stdout


def test_no_garment_frames_score_each_threshold(tmp_path):
    """`bench --no-garment`: a model without a background class names a garment on every empty
    frame at threshold 0; a higher threshold silences more of them, and fewer garments too."""
    report = tmp_path / "bench.json"
    result = run_cli(
        "bench", "--model", str(PHOTO_MODEL), "--images", str(PHOTOS),
        "--no-garment", str(NO_GARMENT), "--runs", "20", "--json", str(report),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "frames with no garment" in result.stdout
    r = json.loads(report.read_text())
    alarms = r["no_garment"]
    assert alarms["frames"] == 28 and alarms["background_class"] is None
    rates = alarms["rates"]
    assert [x["threshold"] for x in rates] == [0.0, 0.5, 0.7, 0.9]
    assert rates[0]["false_alarms"] == 1.0 and rates[0]["garments_named"] == pytest.approx(
        r["accuracy"], abs=1e-4
    )
    for looser, stricter in zip(rates, rates[1:], strict=False):
        assert stricter["false_alarms"] <= looser["false_alarms"]
        assert stricter["garments_named"] <= looser["garments_named"]
    assert rates[-1]["false_alarms"] < 0.5 < rates[0]["false_alarms"]
    missing = run_cli("bench", "--no-garment", str(tmp_path / "nope"))
    assert missing.returncode == 1 and "not a folder" in missing.stderr


@pytest.mark.slow
@needs_train
def test_an_interrupted_fine_tune_phase_resumes_with_the_whole_history(tmp_path):
    """Ctrl-C in the second phase: the head phase is kept, the fine-tune phase continues from its
    own checkpoint, and the log holds every epoch of both, once."""
    import keras

    from edgeclf.train.configs import OwnClassesConfig, load_config
    from edgeclf.train.trainer import train

    class StopAfter(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 2:  # the first fine-tune epoch, after its checkpoint
                raise KeyboardInterrupt

    folder = own_folder(tmp_path)
    run = tmp_path / "run"
    cfg = OwnClassesConfig(
        photos=str(folder),
        classes=sorted(GROUPS),
        epochs=2,
        fine_tune_epochs=2,
        batch_size=8,
        warmup_epochs=0,
    )
    with pytest.raises(KeyboardInterrupt):
        train(cfg, run, extra_callbacks=[StopAfter()])
    assert (run / "checkpoint" / "head.weights.h5").is_file()  # the first phase is finished
    assert (run / "checkpoint" / "fine-tune").is_dir() and not (run / "model.keras").exists()
    resumed = load_config(run)
    assert resumed == cfg.__class__(**{**vars(cfg), "size": resumed.size})
    metrics = train(resumed, run, resume=True)
    with open(run / "history.csv") as f:
        epochs = [int(row["epoch"]) for row in csv.DictReader(f)]
    assert epochs == [0, 1, 2, 3]  # 0-2 before the interrupt, only 3 after it
    assert (
        metrics["epochs"] == 4 and len(json.loads((run / "history.json").read_text())["loss"]) == 4
    )
    assert (run / "model.keras").is_file() and not (run / "checkpoint").exists()
    model = keras.models.load_model(run / "model.keras")
    base = keras.models.load_model(ROOT / "models" / "photo.keras")
    first = [m.get_layer("s0b0_conv").get_weights()[0] for m in (model, base)]
    assert not np.allclose(*first)  # the fine-tune phase trained the base's own layers


@pytest.mark.slow  # starts TensorFlow (or waits out timeouts): not the inner loop
@needs_train
def test_options_that_do_not_apply_to_own_classes_are_refused_at_once(tmp_path):
    args = ["train", "--photos", str(PHOTOS), "--classes", "Pants,Shoes", "-o", str(tmp_path / "r")]
    result = run_cli(*args, "--limit", "50", "--arch", "tiny", "--size", "32")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    for option in ("--arch is for", "--limit is for", "--size is for"):
        assert option in result.stderr
    assert not (tmp_path / "r").exists()
    resumed = run_cli("train", "--resume", str(tmp_path), "--epochs", "3")
    assert resumed.returncode == 1 and "drop --epochs" in resumed.stderr
