"""The accurate tier: EfficientNet-Lite0 (ImageNet-pretrained, a label head on the clothing
photos), bundled with the same contract as the fast model: its card inside, standard labels, a
bank, and every command by `--model accurate`."""

import json

import numpy as np

from edgeclf.edge.runtime.classes import CLASS_NAMES
from edgeclf.edge.runtime.classifier import ACCURATE_MODEL, PHOTO_MODEL, Classifier

from conftest import ROOT, needs_schema, run_cli

PHOTOS = ROOT / "tests" / "fixtures" / "photos"


def test_the_accurate_tier_is_bundled_with_its_card_labels_and_bank():
    clf = Classifier("accurate")
    assert clf.path == ACCURATE_MODEL and Classifier("fast").path == PHOTO_MODEL
    assert clf.contract.recipe == "photo" and clf.contract.size == 224
    assert clf.labels == CLASS_NAMES
    assert ACCURATE_MODEL.stat().st_size <= 4.5 * 2**20
    assert ACCURATE_MODEL.with_name("photo_lite0_int8.bank.npz").is_file()
    card = json.loads(ACCURATE_MODEL.with_suffix(".json").read_text())
    assert card["accuracy"]["split"] == "real-photo validation"
    from edgeclf.edge.tflite.standard_metadata import read_standard_labels

    assert read_standard_labels(ACCURATE_MODEL.read_bytes()) == CLASS_NAMES


def test_classify_takes_the_tier_by_name_and_sees_the_committed_photos():
    result = run_cli("classify", str(PHOTOS / "images"), "--model", "accurate", "--json")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 40 and all(row["label"] in (*CLASS_NAMES, "uncertain") for row in rows)
    bench = run_cli("bench", "--model", "accurate", "--images", str(PHOTOS), "--runs", "20",
                    "--json", "/dev/stdout")  # fmt: skip
    assert bench.returncode == 0, bench.stderr
    assert json.loads(bench.stdout[bench.stdout.index("{") :])["accuracy"] >= 0.8


@needs_schema
def test_teach_builds_on_the_accurate_tier_and_keeps_its_classes(tmp_path, monkeypatch):
    from edgeclf.edge.teach.run import TeachOptions, teach

    monkeypatch.setenv("EDGECLF_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "shop"
    for name in ("hat", "shorts", "skirt"):
        (folder / name).mkdir(parents=True)
        for photo in sorted((ROOT / "tests" / "fixtures" / "new-classes" / name).glob("*.jpg")):
            (folder / name / photo.name).write_bytes(photo.read_bytes())
    plain = teach(TeachOptions(folder=folder, out=tmp_path / "a.tflite", base="accurate"))
    assert [c.name for c in plain.result.classes] == ["hat", "shorts", "skirt"]
    assert plain.result.int8_accuracy is not None and plain.result.int8_accuracy >= 0.8
    kept = teach(
        TeachOptions(folder=folder, out=tmp_path / "k.tflite", base="accurate", keep_classes=True)
    )
    assert kept.card.classes == (*CLASS_NAMES, "hat", "shorts", "skirt")
    assert np.mean([c.kept for c in kept.result.classes]) == 10 / 13
    for c in kept.result.classes[10:]:  # each wrong held-out answer counted, where it went
        wrong = c.val - round(c.val * c.val_accuracy)
        assert (c.taken > 0) == (wrong > 0) and c.taken <= wrong and c.taken_for != c.name


def test_bench_compare_puts_the_tiers_side_by_side_each_in_its_own_process(tmp_path):
    out = tmp_path / "compare.json"
    result = run_cli(
        "bench", "--compare", "accurate", "fast", "--images", str(ROOT / "tests/fixtures/photos"),
        "--runs", "20", "--threads", "1,2", "--json", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    accurate, fast = json.loads(out.read_text())["models"]
    for report in (accurate, fast):
        assert set(report["thread_sweep"]) == {"1", "2"}
        assert all(s["p99"] >= s["p50"] > 0 for s in report["thread_sweep"].values())
    assert "p99 us 2t" in result.stdout and "peak RSS MB" in result.stdout
    # Measured in one process, the second model's peak would include the first's larger one.
    assert fast["peak_rss_mb"] < accurate["peak_rss_mb"]
    assert accurate["accuracy"] > fast["accuracy"]


@needs_schema
def test_camera_and_serve_learn_on_the_tier_they_run(tmp_path, monkeypatch):
    """`l` in the camera window on --model accurate teaches on Lite0's 1280 features, and the
    next `l`, with the taught model running, goes back to the accurate tier; serve's Learn
    takes the same base. A gray model learns on the default photo model."""
    import shutil

    import cv2

    from edgeclf.edge.live.camera import Window
    from edgeclf.edge.live.collect import CollectOptions, Collector
    from edgeclf.edge.live.learning import learning_base
    from edgeclf.edge.live.service import LiveService
    from edgeclf.edge.live.stream import LiveClassifier, LiveOptions
    from edgeclf.edge.runtime.classifier import FASHION_MODEL
    from edgeclf.edge.serve.state import ServeState
    from edgeclf.edge.tflite.model_file import dense_weights

    folder = tmp_path / "shop"
    for name in ("hat", "shorts"):
        (folder / name).mkdir(parents=True)
        for photo in sorted((ROOT / "tests" / "fixtures" / "new-classes" / name).glob("*.jpg")):
            shutil.copy(photo, folder / name / photo.name)
    monkeypatch.setenv("EDGECLF_CACHE", str(tmp_path / "cache"))
    keys = iter([ord("l"), -1, ord("l")])
    monkeypatch.setattr(cv2, "imshow", lambda *a: None)
    monkeypatch.setattr(cv2, "waitKey", lambda *a: next(keys, -1))
    live = LiveClassifier(Classifier("accurate"), LiveOptions(smooth=0.0, threshold=0.0))
    window = Window(live, tmp_path, Collector(CollectOptions(folder)))
    frame = cv2.imread(str(next((folder / "hat").glob("*.jpg"))))
    roi = (0, 0, frame.shape[1], frame.shape[0])
    for _ in range(3):  # learn; a frame on the taught model; learn again from it
        window(live.step(frame, roi))
        taught = live.clf
        assert taught.path == tmp_path / "shop.tflite" and taught.labels == ("hat", "shorts")
        assert dense_weights(taught.content)[0].shape == (2, 1280)
        assert taught.card.report["source_model"] == ACCURATE_MODEL.name
    assert learning_base(taught) == ACCURATE_MODEL
    assert learning_base(Classifier(FASHION_MODEL)) == PHOTO_MODEL
    collecting = Collector(CollectOptions(folder))
    state = ServeState(Classifier("accurate"), LiveService(Classifier("accurate"), LiveOptions()),
                       collecting)  # fmt: skip
    assert state.learner.base == ACCURATE_MODEL
