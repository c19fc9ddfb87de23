"""What a newcomer hits first: the errors that should point the way, in one line each."""

import shutil

import pytest

from edgeclf.edge.runtime.classifier import PHOTO_MODEL

from conftest import ROOT, needs_train, run_cli

PHOTOS = ROOT / "tests" / "fixtures" / "photos"


def one_line(result) -> str:
    assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    return result.stderr


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
        assert "cannot be a folder name" in stderr
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
