"""Values, not keys: top-k, per-class accuracy, the overlay's colours and the background flag,
checked on hand-made arrays where the right answer is known by hand, and on the real 28x28 model
where a card names a background class."""

import json

import numpy as np

from edgeclf.edge.bench.data import BenchData
from edgeclf.edge.bench.run import accuracy_report
from edgeclf.edge.live.frame import FrameResult
from edgeclf.edge.live.overlay import AMBER, GREEN
from edgeclf.edge.live.stream import LiveClassifier, LiveOptions
from edgeclf.edge.metrics import confusion_counts, per_class_accuracy
from edgeclf.edge.runtime.classes import CLASS_NAMES
from edgeclf.edge.runtime.classifier import FASHION_MODEL, Classifier
from edgeclf.edge.runtime.prediction import Prediction, top_k

from conftest import bundled_card_for, copy_without_card

NAMES = ("coat", "dress", "hat")


def bench_data(allowed: np.ndarray, row_index: np.ndarray, rows=NAMES) -> BenchData:
    views = np.zeros((len(allowed), 4, 4), np.uint8)
    return BenchData(views, allowed, rows, row_index, "hand-made", views[0])


def test_top2_counts_the_runner_up_and_top1_does_not():
    probs = np.array(
        [
            [0.7, 0.2, 0.1],  # right at top-1 (coat)
            [0.5, 0.4, 0.1],  # dress: right only at top-2
            [0.6, 0.1, 0.3],  # hat: right only at top-2
            [0.1, 0.3, 0.6],  # coat: wrong even at top-2
        ],
        np.float32,
    )
    truth = np.array([0, 1, 2, 0])
    allowed = np.eye(3, dtype=bool)[truth]
    report = accuracy_report(probs, bench_data(allowed, truth))
    assert report["correct"] == 1 and report["accuracy"] == 0.25
    assert report["top2_accuracy"] == 0.75
    assert report["confusion"] == [[1, 0, 1], [1, 0, 0], [1, 0, 0]]


def test_per_class_accuracy_is_filed_under_each_class_own_name():
    right = np.array([True, False, True, True, False, False, False])
    rows = np.array([0, 0, 1, 2, 2, 2, 2])  # distinct shares: any mix-up of names shows
    assert per_class_accuracy(right, rows, NAMES) == {"coat": 0.5, "dress": 1.0, "hat": 0.25}
    assert per_class_accuracy(right[:2], rows[:2], NAMES) == {
        "coat": 0.5,
        "dress": None,  # no image of it: not scored, not 0 %
        "hat": None,
    }


def test_bench_per_class_rows_are_the_photo_labels_in_order():
    """Rows are a photo folder's own labels (`Hoodie` counts as right on Pullover)."""
    probs = np.array([[0.9, 0.1, 0.0], [0.1, 0.9, 0.0], [0.1, 0.9, 0.0]], np.float32)
    allowed = np.array([[1, 0, 0], [1, 0, 0], [0, 1, 0]], bool)
    report = accuracy_report(probs, bench_data(allowed, np.array([1, 0, 0]), ("Hoodie", "Blazer")))
    assert report["per_class"] == {"Hoodie": 0.5, "Blazer": 1.0}
    assert report["confusion_rows"] == ["Hoodie", "Blazer"]


def test_confusion_counts_rows_against_predictions():
    counts = confusion_counts(np.array([0, 0, 1]), np.array([2, 0, 2]), 2, 3)
    assert counts.tolist() == [[1, 0, 1], [0, 0, 1]]


def test_top_k_is_ordered_with_ties_in_class_order():
    probs = np.array([0.2, 0.5, 0.2, 0.1])
    ranked = top_k(probs, ("a", "b", "c", "d"), 3)
    assert [(r.label, r.score) for r in ranked] == [("b", 0.5), ("a", 0.2), ("c", 0.2)]
    best = Prediction.from_probs(probs, ("a", "b", "c", "d"), k=2)
    assert (best.label, best.index, best.score, best.runner_up.label) == ("b", 1, 0.5, "a")


def frame_result(label: str, nothing: bool = False) -> FrameResult:
    frame = np.full((240, 320, 3), 128, np.uint8)
    ranked = top_k(np.array([0.45, 0.35, 0.2]), NAMES, 3)
    return FrameResult(
        label, 0, 0.45, ranked, image=frame, roi=(100, 60, 120, 120), nothing=nothing
    )


def box_colour(result: FrameResult) -> tuple[int, ...]:
    return tuple(int(v) for v in result.plot()[120, 100])  # the region's left edge


def test_overlay_colours_say_garment_uncertain_or_nothing():
    assert box_colour(frame_result("coat")) == GREEN
    assert box_colour(frame_result("uncertain")) == AMBER
    assert box_colour(frame_result("hat", nothing=True)) == AMBER


def test_live_frames_know_the_background_class(tmp_path, test_split):
    """A card that names a background class makes frames of it say "nothing here"."""
    model = copy_without_card(FASHION_MODEL, tmp_path / "with_background.tflite")
    card = bundled_card_for(model, FASHION_MODEL)
    card["background_class"] = "Bag"
    model.with_suffix(".json").write_text(json.dumps(card))
    live = LiveClassifier(Classifier(model), LiveOptions(smooth=0.0, threshold=0.0))
    labels = test_split.labels
    bag = test_split.images[np.flatnonzero(labels == CLASS_NAMES.index("Bag"))[0]]
    trouser = test_split.images[np.flatnonzero(labels == CLASS_NAMES.index("Trouser"))[0]]
    roi = (0, 0, 28, 28)
    seen_bag = live.step(np.stack([bag] * 3, axis=-1), roi)
    seen_trouser = live.step(np.stack([trouser] * 3, axis=-1), roi)
    assert seen_bag.label == "Bag" and seen_bag.nothing and not seen_bag.names_a_garment
    assert seen_trouser.label == "Trouser" and not seen_trouser.nothing
    assert seen_trouser.names_a_garment


def test_a_verified_model_near_chance_or_half_checked_is_warned_about():
    from edgeclf.convert.report import quality_warnings

    good = {"split": "validation", "tflite_accuracy": 0.9, "classes": 3, "classes_checked": 3}
    assert quality_warnings(good) == []
    chance = quality_warnings({**good, "tflite_accuracy": 0.4})
    assert len(chance) == 1 and "near chance (33%)" in chance[0]
    partial = quality_warnings({**good, "classes_checked": 2})
    assert len(partial) == 1 and "only 2 of 3 classes" in partial[0]


def test_teach_warns_when_validation_is_near_chance_or_missing_a_class(tmp_path):
    from edgeclf.edge.teach.run import ClassResult, TeachResult, outcome_notes

    classes = (ClassResult("a", 5, 2, 1.0), ClassResult("b", 5, 0, None))
    result = TeachResult(tmp_path / "m.tflite", classes, 0.6, 0.6, 1.0, 0.01, 12, (), 0, 1.0,
                         "sittings", ())  # fmt: skip
    lines = outcome_notes(result, CLASS_NAMES)
    assert any("no validation photo for b" in line for line in lines)
    assert any("near chance" in line for line in lines)  # 60 % of two classes: under 1.5x 50 %
    fine = result._replace(classes=(classes[0], classes[0]._replace(name="b")), int8_accuracy=0.9)
    assert [line for line in outcome_notes(fine, CLASS_NAMES) if "warning" in line] == []


def test_labels_are_solid_boxes_off_the_region_edge_with_no_ghost_text():
    """Each label is text on a filled box: no background shows through between its glyphs (an
    outline drawn thicker than its text leaves gaps there, and on OpenCV 5 drifts into a ghost
    copy), the box keeps clear of the region's edge, and "uncertain" names its best guess."""
    from edgeclf.edge.live.overlay import DARK, headline, headline_origin, text_box

    for label, roi in (("coat", (100, 60, 120, 120)), ("uncertain", (100, 0, 120, 120))):
        result = frame_result(label)
        result.roi = roi
        drawn = result.plot()
        title = headline(result)
        x0, y0, x1, y1 = text_box(title, headline_origin(title, roi), 0.9)
        inside = drawn[y0 : y1 + 1, x0 : x1 + 1].reshape(-1, 3).astype(int)
        assert not (inside == 128).all(axis=1).any()  # no background pixel inside the box
        assert (inside == DARK).all(axis=1).mean() > 0.4  # mostly box, with text on it
        rx, ry, rw, rh = roi
        assert y1 < ry - 1 or y0 > ry + 1  # off the region's top edge
        assert x0 > rx + 1 or y1 < ry - 1  # and off its left edge
    assert headline(frame_result("uncertain")) == "uncertain: coat? 45%"
