"""train's label head: the photo folder's own labels (Hoodie, Longsleeve, Shorts...) learnt beside
the classes during training, from the training senders' photos only, and left out of the model."""

import csv
import shutil
from types import SimpleNamespace

import numpy as np
import pytest

from edgeclf.edge.datasets.photo_data import split_photos
from edgeclf.edge.runtime.classes import CLASS_NAMES
from edgeclf.edge.runtime.contract import PHOTO, InputContract

from conftest import ROOT, needs_train, run_cli

PHOTOS = ROOT / "tests" / "fixtures" / "photos"


@needs_train
def test_each_part_of_the_loss_counts_only_where_the_view_has_it():
    from edgeclf.train.photo_training import LABEL_HEAD_WEIGHT, set_loss, set_loss_with_label_head

    cfg = SimpleNamespace(label_smoothing=0.0)
    logits = np.array([[2, 0, 1, 0, 3], [1, 1, 0, 2, 0], [0, 0, 4, 1, 1]], np.float32)
    targets = np.array(
        [
            [1, 0, 0, 0, 1],  # class 0, photo label 1
            [0, 0, 0, 1, 0],  # no class (a Shorts photo), photo label 0
            [0, 0, 1, 0, 0],  # class 2, no photo label (a rendered crop)
        ],
        np.float32,
    )
    loss = np.asarray(set_loss_with_label_head(cfg, 3)(targets, logits))
    on_classes = np.asarray(set_loss(cfg)(targets[:, :3], logits[:, :3]))
    labels = logits[:, 3:]
    on_labels = np.log(np.exp(labels).sum(1)) - (targets[:, 3:] * labels).sum(1)
    expected = [
        on_classes[0] + LABEL_HEAD_WEIGHT * on_labels[0],
        LABEL_HEAD_WEIGHT * on_labels[1],
        on_classes[2],
    ]
    np.testing.assert_allclose(loss, expected, rtol=1e-5)


def write_photo_folder(folder, rows: list[tuple[str, str]]) -> None:
    """A CSV-layout photo folder of committed photos with these (sender, label) rows."""
    sources = sorted((PHOTOS / "images").glob("*.jpg"))
    (folder / "images").mkdir(parents=True)
    with open(folder / "labels.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["image", "sender_id", "label"])
        for n, (sender, label) in enumerate(rows):
            shutil.copy(sources[n % len(sources)], folder / "images" / f"p{n}.jpg")
            writer.writerow([f"p{n}", sender, label])


@needs_train
def test_photos_without_a_class_come_from_training_senders_only(tmp_path):
    from edgeclf.edge.datasets.photoset import group_split
    from edgeclf.train.photo_training import training_photos_without_class

    labels = ("T-Shirt", "Shorts", "Hat", "Not sure", "Skip", "Shoes")
    rows = [(f"s{s}", label) for s in range(12) for label in labels]
    rows += [(f"shorts-only{s}", "Shorts") for s in range(8)]  # senders validation never shows
    write_photo_folder(tmp_path, rows)
    contract = InputContract(PHOTO, 32, 3, CLASS_NAMES)
    cfg = SimpleNamespace(val_fraction=0.3, seed=0)
    train_set, val_set = split_photos(tmp_path, contract, cfg.val_fraction, cfg.seed)
    groups = np.array([sender for sender, _ in rows])
    _, val_idx = group_split(groups, cfg.val_fraction, cfg.seed)
    val_side = set(groups[val_idx].tolist())
    assert set(val_set.groups.tolist()) < val_side  # some shorts-only senders are val-side too
    extra = training_photos_without_class(tmp_path, contract, cfg, val_set)
    assert {item.label for item in extra.items} == {"Shorts", "Hat"}
    assert {item.group for item in extra.items} == set(groups.tolist()) - val_side
    assert not extra.allowed.any()


@needs_train
def test_a_validation_sender_stays_out_even_when_a_tiny_folder_picks_validation_by_hand(tmp_path):
    # No sender hashes under 0.1, so each split falls back to its lowest hash: among the senders
    # with a class that is s1, among all it is shorts-only2. s1's Shorts must still stay out.
    from edgeclf.train.photo_training import training_photos_without_class

    rows = [(s, label) for s in ("s1", "s2") for label in ("T-Shirt", "Shorts")]
    write_photo_folder(tmp_path, [*rows, ("shorts-only2", "Shorts")])
    contract = InputContract(PHOTO, 32, 3, CLASS_NAMES)
    cfg = SimpleNamespace(val_fraction=0.1, seed=0)
    _, val_set = split_photos(tmp_path, contract, cfg.val_fraction, cfg.seed)
    assert set(val_set.groups.tolist()) == {"s1"}
    extra = training_photos_without_class(tmp_path, contract, cfg, val_set)
    assert [item.group for item in extra.items] == ["s2"]


@pytest.mark.slow  # starts TensorFlow (or waits out timeouts): not the inner loop
@needs_train
def test_the_label_head_is_on_for_ten_class_photo_models_only(tmp_path):
    from edgeclf.train.configs import config_for_command

    photos = {"photos": str(PHOTOS), "label_head": False}
    assert config_for_command(photos, {"photos"}).label_head  # on unless switched off
    assert not config_for_command(photos, {"photos", "label_head"}).label_head
    assert not hasattr(config_for_command({}, set()), "label_head")  # Fashion-MNIST
    for args in (["--classes", "a,b", "--photos", str(PHOTOS)], []):
        result = run_cli("train", "--label-head", *args, "-o", str(tmp_path / "r"))
        assert result.returncode == 1, result.stderr
        assert "--label-head is for ten-class photo models" in result.stderr
        assert not (tmp_path / "r").exists()


@pytest.mark.slow  # starts TensorFlow (or waits out timeouts): not the inner loop
@needs_train
def test_a_run_learns_the_labels_and_saves_a_model_without_their_head(tmp_path, mini_dir):
    import json

    import keras

    labels = ("T-Shirt", "Hoodie", "Shorts", "Shoes")
    write_photo_folder(tmp_path / "photos", [(f"s{s}", lab) for s in range(12) for lab in labels])
    env = {"EDGECLF_DATA_DIR": str(mini_dir), "TF_CPP_MIN_LOG_LEVEL": "3"}
    run = tmp_path / "run"
    result = run_cli(
        "train", "--photos", str(tmp_path / "photos"), "--size", "32", "--epochs", "1",
        "--render-per-class", "2", "--batch-size", "16", "--out", str(run), env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    seen = json.loads((run / "metrics.json").read_text())["photos"]
    assert seen["label_head"]["labels"] == ["Hoodie", "Shoes", "Shorts", "T-Shirt"]
    assert seen["label_head"]["photos_without_class"] == seen["train_photos"] // 3  # Shorts
    assert seen["rendered_fashion_mnist"] == 20
    assert keras.saving.load_model(run / "model.keras").output_shape == (None, 10)
