import json
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest

from edgeclf.edge.datasets.synthetic import write_demo_video
from edgeclf.edge.live import capture
from edgeclf.edge.live.stream import LiveClassifier, LiveOptions
from edgeclf.edge.runtime.classes import CLASS_NAMES
from edgeclf.edge.runtime.classifier import FASHION_MODEL, Classifier

from conftest import ROOT, needs_schema, run_cli

GARMENTS = 24
PER_GARMENT = 5


@pytest.fixture(scope="module")
def video(tmp_path_factory, test_split):
    path = tmp_path_factory.mktemp("video") / "garments.mp4"
    frames = write_demo_video(path, test_split.images[:GARMENTS], PER_GARMENT)
    truth = np.repeat(test_split.labels[:GARMENTS], PER_GARMENT)
    assert frames == len(truth)
    return path, truth


def test_headless_video_json_lines(video):
    path, truth = video  # Fashion-MNIST garments on a plain ground: the 28x28 model's domain
    result = run_cli(
        "camera", "--source", str(path), "--headless", "--smooth", "0", "--threshold", "0",
        "--model", str(FASHION_MODEL),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == len(truth)  # a file is classified completely
    assert [line["frame"] for line in lines] == list(range(len(truth)))
    for line in lines:  # classify --json's shape, plus the frame's own fields
        assert set(line) == {"label", "index", "score", "top_k", "t", "frame", "fps", "infer_ms"}
        assert line["top_k"][0] == {"label": line["label"], "score": line["score"]}
        assert CLASS_NAMES[line["index"]] == line["label"] and len(line["top_k"]) == 3
        assert line["infer_ms"] > 0
    assert lines[-1]["fps"] > 0
    correct = sum(line["label"] == CLASS_NAMES[truth[line["frame"]]] for line in lines)
    assert correct / len(lines) >= 0.8
    assert "FPS" in result.stderr and "inference" in result.stderr  # the summary


def test_on_change_threshold_and_max_frames(video):
    path, _ = video
    result = run_cli(
        "camera", "--source", str(path), "--headless", "--on-change", "--max-frames", "30"
    )
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.returncode == 0 and 1 <= len(lines) < 30
    assert all(a["label"] != b["label"] for a, b in zip(lines, lines[1:], strict=False))
    sure = run_cli(
        "camera", "--source", str(path), "--headless", "--max-frames", "10", "--threshold", "1.0"
    )
    assert {json.loads(line)["label"] for line in sure.stdout.splitlines()} == {"uncertain"}
    assert "10 frames" in sure.stderr


def test_record_writes_an_annotated_video(tmp_path, video):
    path, _ = video
    out = tmp_path / "annotated.mp4"
    result = run_cli("camera", "--source", str(path), "--max-frames", "12", "--record", str(out))
    assert result.returncode == 0, result.stderr
    assert "running headless" in result.stderr  # no display here: falls back with a warning
    cap = cv2.VideoCapture(str(out))
    frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    ok, first = cap.read()
    assert ok and frames == 12 and first.shape == (480, 640, 3)
    assert list(tmp_path.glob(".annotated*")) == []


def test_missing_source_is_a_clean_error(tmp_path):
    for source, words in ((str(tmp_path / "nope.mp4"), "not found"), ("7", "cannot open camera 7")):
        result = run_cli("camera", "--source", source, "--headless")
        assert result.returncode == 1 and words in result.stderr
        assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


class DyingCamera:
    """A live source that delivers some frames, then only failures (unplugged)."""

    is_file = False
    fps = 30.0

    def __init__(self, frame, good):
        self.frame, self.good, self.reads, self.reopens = frame, good, 0, 0

    def read(self):
        self.reads += 1
        return self.frame if self.reads <= self.good else None

    def reopen(self):
        self.reopens += 1

    def release(self):
        pass


def test_source_dying_mid_stream_retries_then_reports(test_split):
    from edgeclf.edge.datasets.synthetic import garment_frame

    dying = DyingCamera(garment_frame(test_split.images[0]), good=5)
    opts = LiveOptions(max_retries=2, retry_base_s=0.01)
    live = LiveClassifier(Classifier(FASHION_MODEL), opts, source=dying)
    results = list(live.stream())
    summary = live.summary()
    assert 1 <= summary.frames <= 5 and len(results) == summary.frames
    assert dying.reopens == 2 and "retries failed" in summary.error
    assert (
        Counter(r.label for r in results).most_common(1)[0][0] == CLASS_NAMES[test_split.labels[0]]
    )


def test_source_parsing():
    assert capture.parse_source("0") == ("index", 0)
    assert capture.parse_source("/dev/video2") == ("device", "/dev/video2")
    assert capture.parse_source("rtsp://cam/stream")[0] == "url"
    assert capture.parse_source("v4l2src ! videoconvert ! appsink")[0] == "gstreamer"
    assert capture.parse_source("clip.mp4") == ("file", "clip.mp4")
    assert capture.parse_source("picamera2")[0] == "picamera2"


def test_picamera2_missing_is_explained():
    result = run_cli("camera", "--source", "picamera2", "--headless")
    assert result.returncode == 1 and "python3-picamera2" in result.stderr


def test_roi_outside_the_frame_is_an_error_not_a_one_pixel_crop(video):
    path, _ = video
    result = run_cli("camera", "--source", str(path), "--headless", "--roi", "2000,2000,10,10")
    assert result.returncode == 1 and "starts outside the 640x480 frame" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    bad = run_cli("camera", "--source", str(path), "--headless", "--roi", "1,2,3")
    assert bad.returncode == 2 and "x,y,w,h" in bad.stderr


def two_garment_frame(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """640x480: one garment in the left half, another in the right half."""
    from edgeclf.edge.datasets.synthetic import garment_frame

    frame = garment_frame(left, centre=(160, 240), side=240)
    frame[:, 320:] = garment_frame(right, centre=(480, 240), side=240)[:, 320:]
    return frame


def pick_two_classes(test_split) -> tuple[int, int]:
    """Indices of a trouser and a bag: far apart, and both easy for the model."""
    labels = test_split.labels
    return int(np.flatnonzero(labels == 1)[0]), int(np.flatnonzero(labels == 8)[0])


def test_only_the_region_is_classified(test_split):
    a, b = pick_two_classes(test_split)
    frame = two_garment_frame(test_split.images[a], test_split.images[b])
    live = LiveClassifier(Classifier(FASHION_MODEL), LiveOptions(smooth=0.0, threshold=0.0))
    left = live.step(frame, (20, 100, 280, 280))
    right = live.step(frame, (340, 100, 280, 280))
    assert left.label == "Trouser" and right.label == "Bag"


def test_smoothing_weights_the_past_as_asked(test_split):
    a, b = pick_two_classes(test_split)
    clf = Classifier(FASHION_MODEL)
    frame_a = two_garment_frame(test_split.images[a], test_split.images[a])
    frame_b = two_garment_frame(test_split.images[b], test_split.images[b])
    roi = (20, 100, 280, 280)
    live = LiveClassifier(clf, LiveOptions(smooth=0.8, threshold=0.0))
    live.step(frame_a, roi)
    second = live.step(frame_b, roi)
    p_a = clf.predict(clf.view(frame_a[100:380, 20:300]))[0]
    p_b = clf.predict(clf.view(frame_b[100:380, 20:300]))[0]
    assert np.allclose(live.smoothed, 0.8 * p_a + 0.2 * p_b)
    assert second.label == "Trouser"  # one new frame does not overturn a steady past


def test_a_blank_region_is_no_garment_as_in_classify(test_split):
    """A covered lens or a bare wall: no model call, "no garment", and the next garment is read
    afresh (not smoothed with the blank)."""
    a, _ = pick_two_classes(test_split)
    live = LiveClassifier(Classifier(FASHION_MODEL), LiveOptions(smooth=0.9, threshold=0.0))
    roi = (20, 100, 280, 280)
    blank = live.step(np.full((480, 640, 3), 128, np.uint8), roi)
    assert (blank.label, blank.index, blank.top_k, blank.nothing) == ("no garment", -1, (), True)
    assert not blank.names_a_garment and len(live.times.inference) == 0
    drawn = blank.plot()  # amber box, headline "no garment" with no score
    from edgeclf.edge.live.overlay import AMBER, headline

    assert tuple(drawn[380, 150]) == AMBER and headline(blank) == "no garment"
    garment = live.step(two_garment_frame(test_split.images[a], test_split.images[a]), roi)
    assert garment.label == "Trouser" and garment.score > 0.5


from edgeclf.edge.live.overlay import GREEN  # noqa: E402


def test_overlay_draws_the_region_and_the_label(test_split):
    from edgeclf.edge.live.overlay import GREEN

    a, b = pick_two_classes(test_split)
    frame = two_garment_frame(test_split.images[a], test_split.images[b])
    result = LiveClassifier(Classifier(FASHION_MODEL), LiveOptions(smooth=0.0, threshold=0.0)).step(
        frame, (20, 100, 280, 280)
    )
    drawn = result.plot()
    assert drawn.shape == frame.shape and not np.array_equal(drawn, frame)
    assert tuple(drawn[380, 150]) == GREEN and tuple(drawn[240, 20]) == GREEN  # the box edges
    assert (drawn[60:96, 20:200] != frame[60:96, 20:200]).any()  # the label, above the region
    assert np.array_equal(drawn[200:300, 400:600], frame[200:300, 400:600])  # nothing else


def test_collect_counts_are_drawn_top_right(test_split):
    from edgeclf.edge.datasets.synthetic import garment_frame
    from edgeclf.edge.live.overlay import with_counts

    frame = garment_frame(test_split.images[0])
    drawn = with_counts(frame, ["1 jeans: 3", "2 chinos: 0"])
    changed = np.argwhere((drawn != frame).any(axis=2))
    top, bottom = changed[changed[:, 0] < 240], changed[changed[:, 0] >= 240]
    assert len(top) and top[:, 1].min() >= 640 - 200 and top[:, 0].max() < 80
    # the keys' hint: one line above the FPS line, bottom left
    assert len(bottom) and bottom[:, 0].min() > 480 - 60 and bottom[:, 1].max() < 300
    long = with_counts(frame, ["1 outerwear-and-jackets: 120"])  # stays whole, right-aligned
    changed = np.argwhere((long != frame).any(axis=2))
    changed = changed[changed[:, 0] < 240]
    assert changed[:, 1].max() < 640 - 4 and changed[:, 1].min() > 200


def test_the_bars_keep_off_the_classified_region(test_split):
    """On a dark backing, in a frame corner the region and its headline leave free."""
    from edgeclf.edge.live.overlay import headline, headline_origin, text_box

    a, b = pick_two_classes(test_split)
    frame = two_garment_frame(test_split.images[a], test_split.images[b])
    live = LiveClassifier(Classifier(FASHION_MODEL), LiveOptions(smooth=0.0, threshold=0.0))
    for roi in ((20, 100, 280, 280), (330, 60, 280, 280), (10, 10, 300, 300)):
        result = live.step(frame, roi)
        drawn = result.plot()
        x, y, w, h = roi
        changed = (drawn != frame).any(axis=2)
        x0, y0, x1, y1 = text_box(headline(result), headline_origin(headline(result), roi), 0.9)
        changed[y0 : y1 + 1, x0 : x1 + 1] = False  # the headline sits inside at the frame's top
        assert not changed[y + 3 : y + h - 3, x + 3 : x + w - 3].any(), roi  # nothing else
        bars = np.argwhere(np.abs(drawn.astype(int) - GREEN).sum(-1) < 60)
        bars = bars[
            (bars[:, 0] < y - 2)
            | (bars[:, 0] > y + h + 2)
            | (bars[:, 1] < x - 2)
            | (bars[:, 1] > x + w + 2)
        ]
        assert len(bars) > 100, roi  # the filled bars are drawn, outside the region


def test_camera_defaults_to_the_photo_model_on_real_photos(tmp_path):
    """A clip of the committed real photos (each held for 4 frames, 640x480): the default model
    is the photo model, and it is right about most of them."""
    import csv

    from edgeclf.edge.datasets.photoset import FASHION_MNIST_MAPPING

    photos = Path(__file__).parent / "fixtures" / "photos"
    with open(photos / "labels.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["label"] in FASHION_MNIST_MAPPING]
    clip = tmp_path / "real.mp4"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), 15, (640, 480))
    for row in rows:
        image = cv2.imread(str(photos / "images" / f"{row['image']}.jpg"))
        frame = np.full((480, 640, 3), 128, np.uint8)
        side = 432
        frame[24 : 24 + side, 104 : 104 + side] = cv2.resize(image, (side, side))
        for _ in range(4):
            writer.write(frame)
    writer.release()
    result = run_cli("camera", "--source", str(clip), "--headless", "--smooth", "0")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 4 * len(rows)
    right = [
        line["label"] in FASHION_MNIST_MAPPING[rows[line["frame"] // 4]["label"]] for line in lines
    ]
    assert np.mean(right) >= 0.6, np.mean(right)


@needs_schema
def test_window_l_key_learns_the_collect_folder_and_swaps_the_model(tmp_path, monkeypatch):
    """With --collect, `l` teaches from the folder and the next frames use the new classes
    (OpenCV's window calls stubbed: this machine has no screen; the rest is real)."""
    import shutil

    from edgeclf.edge.live.camera import Window
    from edgeclf.edge.live.collect import CollectOptions, Collector
    from edgeclf.edge.runtime.classifier import PHOTO_MODEL

    photos = sorted((ROOT / "tests" / "fixtures" / "photos" / "images").glob("*.jpg"))
    folder = tmp_path / "shop"
    for c, name in enumerate(("left", "right")):
        (folder / name).mkdir(parents=True)
        for i, path in enumerate(photos[c::2][:8]):
            shutil.copy(path, folder / name / f"2026120{c + 1}-090000-{i:06d}.jpg")
    monkeypatch.setenv("EDGECLF_CACHE", str(tmp_path / "cache"))
    keys = iter([ord("l")])
    monkeypatch.setattr(cv2, "imshow", lambda *a: None)
    monkeypatch.setattr(cv2, "waitKey", lambda *a: next(keys, -1))
    live = LiveClassifier(Classifier(PHOTO_MODEL), LiveOptions(smooth=0.0, threshold=0.0))
    window = Window(live, tmp_path, Collector(CollectOptions(folder)))
    frame = cv2.imread(str(photos[0]))
    roi = (0, 0, frame.shape[1], frame.shape[0])
    window(live.step(frame, roi))  # the `l` key: learn, then swap
    assert live.clf.path == tmp_path / "shop.tflite"
    assert live.step(frame, roi).label in ("left", "right")
