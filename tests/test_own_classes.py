"""Teaching your own classes: collect from a camera (a video file here), fine-tune the bundled photo
model's features, convert, classify with the card's class names."""

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from edgeclf.edge.classifier import PHOTO_MODEL, Classifier
from edgeclf.edge.synthetic import write_demo_video

from conftest import ROOT, run_cli

PHOTOS = ROOT / "tests" / "fixtures" / "photos"
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


def test_bad_class_folders_fail_before_training(tmp_path):
    folder = own_folder(tmp_path)
    args = ["train", "--photos", str(folder), "--classes-from-folders", "--epochs", "1"]
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
def test_fine_tune_convert_classify_with_own_names(tmp_path):
    folder = own_folder(tmp_path)
    run = tmp_path / "run"
    result = run_cli(
        "train", "--photos", str(folder), "--classes-from-folders", "--epochs", "12",
        "--batch-size", "8", "--out", str(run),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "photos per class: shoes 5, tops 12, trousers 5" in result.stdout
    assert "fewer than 20 photos" in result.stderr
    card = json.loads((run / "model.card.json").read_text())
    assert card["classes"] == ["shoes", "tops", "trousers"]
    assert card["class_counts"] == {"shoes": 5, "tops": 12, "trousers": 5}
    model = tmp_path / "shop_int8.tflite"
    result = run_cli(
        "convert", str(run / "model.keras"), "--int8", "--max-drop", "100", "-o", str(model)
    )
    assert result.returncode == 0, result.stderr
    clf = Classifier(model)
    assert clf.labels == ("shoes", "tops", "trousers")
    assert clf.input.shape[1:] == Classifier(PHOTO_MODEL).input.shape[1:]
    result = run_cli("classify", "--model", str(model), str(folder), "--json")
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    right = [Path(r["path"]).parent.name == r["label"] for r in rows]
    assert len(rows) == 22 and {r["label"] for r in rows} <= set(clf.labels)
    assert np.mean(right) >= 0.7  # chance is a third
    audit = run_cli("classify", "--model", str(model), str(folder), "--expect-dirs")
    assert audit.returncode == 0 and "Catalog mismatches" in audit.stdout
