"""What a newcomer hits first: the errors that should point the way, in one line each."""

import json
import shutil

import pytest

from edgeclf.edge.runtime.classifier import PHOTO_MODEL

from conftest import ROOT, needs_train, one_line, run_cli

PHOTOS = ROOT / "tests" / "fixtures" / "photos"


def test_classify_with_a_keras_model_points_to_convert():
    stderr = one_line(
        run_cli("classify", str(PHOTOS / "images"), "--model", str(ROOT / "models" / "photo.keras"))
    )
    assert "is a Keras model; convert it first: edgeclf convert" in stderr


@needs_train
def test_convert_given_a_tflite_says_it_takes_the_keras_model(tmp_path):
    stderr = one_line(run_cli("convert", str(PHOTO_MODEL), "-o", str(tmp_path / "x.tflite")))
    assert "is already a TFLite model; convert takes the .keras model" in stderr
    assert not (tmp_path / "x.tflite").exists()


@pytest.mark.slow  # starts TensorFlow (or waits out timeouts): not the inner loop
@needs_train
def test_a_typo_in_classes_suggests_the_label_and_leaves_no_run_folder(tmp_path):
    out = tmp_path / "run"
    args = ("train", "--photos", str(PHOTOS), "--classes", "T-Shirt,Pantz,Shose", "-o", str(out))
    stderr = one_line(run_cli(*args))
    assert "'Pantz' (did you mean 'Pants'?), 'Shose' (did you mean 'Shoes'?)" in stderr
    assert not out.exists()


def test_teach_with_a_typo_suggests_the_label_too(tmp_path):
    out = tmp_path / "m.tflite"
    stderr = one_line(run_cli("teach", str(PHOTOS), "--classes", "Pantz,Shoes", "-o", str(out)))
    assert "did you mean 'Pants'?" in stderr and not out.exists()


@pytest.mark.slow  # starts TensorFlow (or waits out timeouts): not the inner loop
@needs_train
def test_a_flat_folder_is_told_to_use_one_subfolder_per_class(tmp_path):
    flat = tmp_path / "flat"
    shutil.copytree(PHOTOS / "images", flat)
    args = ("train", "--photos", str(flat), "--classes-from-folders", "-o", str(tmp_path / "r"))
    assert "put each class in its own subfolder" in one_line(run_cli(*args))
    assert not (tmp_path / "r").exists()


def test_a_collect_label_cannot_write_outside_its_folder(tmp_path):
    video = ROOT / "tests" / "fixtures"  # never opened: the label is refused first
    for label in ("../escape", "/abs/path", ".hidden"):
        args = ("camera", "--source", str(video), "--headless", "--collect", str(tmp_path / "c"))
        stderr = one_line(run_cli(*args, "--label", label))
        assert "is not a usable class name: it names a folder" in stderr
    assert not (tmp_path / "escape").exists() and not (tmp_path / "c").exists()


def test_camera_loops_a_video_file_like_a_camera(tmp_path, test_split):
    from edgeclf.edge.datasets.synthetic import write_demo_video

    video = tmp_path / "short.mp4"
    write_demo_video(video, test_split.images[:2], frames_per_garment=5)  # 10 frames
    result = run_cli("camera", "--source", str(video), "--headless", "--loop", "--max-frames", "25")
    assert result.returncode == 0, result.stderr
    assert len([line for line in result.stdout.splitlines() if line.startswith("{")]) == 25


def test_a_one_epoch_run_draws_its_points(tmp_path):
    """A single epoch is one point per curve: without markers the plot would be blank."""
    import cv2
    import numpy as np

    from edgeclf.edge import plots

    history = {"loss": [1.0], "val_loss": [1.2], "accuracy": [0.5], "val_accuracy": [0.4]}
    plots.training_curves(history, tmp_path / "curves.png")
    image = cv2.imread(str(tmp_path / "curves.png"))[:, :, ::-1].astype(int)
    train_blue = (np.abs(image - (0x1F, 0x77, 0xB4)).sum(-1) < 40).sum()
    assert train_blue > 180, train_blue  # measured: 252 with markers, 128 (the legend) without


def test_runs_are_numbered_per_task_and_empty_folders_reused(tmp_path):
    from edgeclf.train.run_folder import next_run_folder

    assert next_run_folder("photo", tmp_path) == tmp_path / "photo"
    (tmp_path / "photo").mkdir()
    assert next_run_folder("photo", tmp_path) == tmp_path / "photo"  # empty: nothing to lose
    (tmp_path / "photo" / "model.keras").write_bytes(b"x")
    (tmp_path / "photo2").mkdir()
    (tmp_path / "photo2" / "config.json").write_text("{}")
    assert next_run_folder("photo", tmp_path) == tmp_path / "photo3"
    assert next_run_folder("fashion", tmp_path) == tmp_path / "fashion"


@pytest.mark.slow
@needs_train
def test_train_without_out_numbers_its_runs(tmp_path, mini_dir):
    """Two runs of one task land side by side; a refused one takes no number."""
    env = {"EDGECLF_DATA_DIR": str(mini_dir)}
    args = ("train", "--arch", "tiny", "--epochs", "1", "--limit", "200", "--batch-size", "64")
    refused = run_cli("train", "--photos", str(PHOTOS), "--classes", "Pantz", cwd=tmp_path)
    assert refused.returncode != 0 and not (tmp_path / "runs").exists()
    for folder in ("fashion", "fashion2"):
        result = run_cli(*args, env=env, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert f"wrote runs/{folder}/: model.keras" in result.stdout
        assert (tmp_path / "runs" / folder / "curves.png").stat().st_size > 0
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["fashion", "fashion2"]


def copy_photos(tmp_path, extra_rows: str = "", corrupt: int = 0):
    """The committed photos, with labels.csv rows appended and `corrupt` images overwritten."""
    folder = tmp_path / "photos"
    shutil.copytree(PHOTOS, folder)
    with open(folder / "labels.csv", "a") as f:
        f.write(extra_rows)
    for path in sorted((folder / "images").glob("*.jpg"))[:corrupt]:
        path.write_bytes(b"not a jpeg")
    return folder


def bench_photos(folder, *extra):
    return run_cli("bench", "--images", str(folder), "--runs", "10", *extra)


def test_labels_rows_without_their_image_say_where_they_were_looked_for(tmp_path):
    one = copy_photos(tmp_path / "one", "lost-photo,9,Shirt,False\n")
    result = bench_photos(one)
    assert result.returncode == 0, result.stderr
    assert "1 image(s) named in labels.csv are not in" in result.stderr
    assert "lost-photo.jpg" in result.stderr and "images/" in result.stderr
    rows = "".join(f"lost-{i},9,Shirt,False\n" for i in range(10))
    stderr = one_line(bench_photos(copy_photos(tmp_path / "many", rows)))
    assert "10 of 50 images named in" in stderr and "looked for" in stderr
    assert "lost-0.jpg" in stderr


def test_labels_rows_that_climb_out_or_are_short_are_refused_by_line(tmp_path):
    for row, says in (
        ("../../etc/passwd,9,Shirt,False\n", "line 42: image '../../etc/passwd' must name a file"),
        ("/etc/hostname,9,Shirt,False\n", "line 42: image '/etc/hostname' must name a file"),
        ("short-row,9\n", "line 42: 2 of 4 columns"),
        ("nul\x00byte,9,Shirt,False\n", "line 42: a NUL byte (is it a text file?)"),
    ):
        folder = copy_photos(tmp_path / str(len(says) + len(row)), row)
        for command in (bench_photos(folder), run_cli("teach", str(folder), "--classes",
                        "Pants,Shoes", "-o", str(tmp_path / "m.tflite"))):  # fmt: skip
            assert says in one_line(command)


def test_an_image_listed_twice_counts_once(tmp_path):
    import csv

    with open(PHOTOS / "labels.csv", newline="") as f:
        first = next(csv.DictReader(f))
    folder = copy_photos(tmp_path, f"{first['image']},999,Pants,False\n")
    result = bench_photos(folder)
    assert (
        result.returncode == 0
        and "1 duplicate row(s) in labels.csv (an image listed twice)" in result.stderr
    )
    report = run_cli(
        "bench", "--images", str(folder), "--runs", "10", "--json", str(tmp_path / "b.json")
    )
    assert json.loads((tmp_path / "b.json").read_text())["n"] == 38, report.stderr


def test_bench_names_unreadable_photos_and_refuses_a_score_missing_many(tmp_path):
    few = bench_photos(copy_photos(tmp_path / "few", corrupt=2))
    assert few.returncode == 0 and "2 unreadable photo(s) not scored" in few.stderr
    stderr = one_line(bench_photos(copy_photos(tmp_path / "many", corrupt=12)))
    assert "of 38 photos could not be read" in stderr


def test_non_images_and_heic_are_skipped_with_a_count(tmp_path):
    folder = tmp_path / "shop"
    shutil.copytree(PHOTOS / "images", folder)
    (folder / "IMG_0001.HEIC").write_bytes(b"ftypheic")
    (folder / "notes.txt").write_text("x")
    (folder / ".DS_Store").write_bytes(b"x")
    result = run_cli("classify", str(folder))
    assert result.returncode == 0, result.stderr
    assert "skipped 2 file(s) that are not images (1 .heic, 1 .txt)" in result.stderr
    assert "save HEIC photos as JPEG" in result.stderr


def test_bench_split_val_on_a_folder_the_model_never_trained_on_says_so():
    result = bench_photos(PHOTOS, "--split", "val")
    assert result.returncode == 0, result.stderr
    assert "trained on photos from 'clothing-photos', not 'photos'" in result.stderr


def test_the_bundled_models_copied_alone_keep_their_classes_and_recipe(tmp_path):
    """The file people copy to a Pi is the .tflite: it carries its card inside."""
    images = str(PHOTOS / "images")
    for name in ("photo_int8.tflite", "fashion_int8.tflite"):
        alone = tmp_path / name
        shutil.copy(ROOT / "models" / name, alone)
        with_card = run_cli("classify", images, "--model", str(ROOT / "models" / name), "--json")
        copied = run_cli("classify", images, "--model", str(alone), "--json")
        assert copied.returncode == 0 and "no model card" not in copied.stderr, copied.stderr
        answers = [
            [(r["label"], r["top_k"]) for r in map(json.loads, out.stdout.splitlines())]
            for out in (copied, with_card)
        ]
        assert answers[0] == answers[1] and len(answers[0]) == 40


def test_the_labels_are_where_standard_tflite_metadata_readers_look():
    """TFLite's own metadata: a ModelMetadata flatbuffer (identifier M001) in the buffer named
    TFLITE_METADATA, and labels.txt in the zip appended to the model, as the populator writes
    them. (tflite-support's MetadataDisplayer reads both; checked by hand, it is not a dependency.)"""
    import io
    import zipfile

    from edgeclf.edge.tflite.flatbuffer import read_metadata

    for name in ("photo_int8", "fashion_int8"):
        data = (ROOT / "models" / f"{name}.tflite").read_bytes()
        metadata = read_metadata(data, "TFLITE_METADATA")
        assert metadata is not None and metadata[4:8] == b"M001"
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            labels = archive.read("labels.txt").decode().splitlines()
        card = json.loads((ROOT / "models" / f"{name}.json").read_text())
        assert labels == card["classes"]


@pytest.mark.slow  # starts TensorFlow (or waits out timeouts): not the inner loop
@needs_train
def test_train_refuses_rows_whose_image_is_missing_before_any_work(tmp_path):
    """bench and teach skip such rows with a note; a model is trained on what it was given."""
    folder = copy_photos(tmp_path, "lost-photo,9,Shirt,False\n")
    out = tmp_path / "run"
    stderr = one_line(run_cli("train", "--photos", str(folder), "--epochs", "1", "-o", str(out)))
    assert "1 image(s) named in" in stderr and "looked for lost-photo.jpg" in stderr
    assert not out.exists()
