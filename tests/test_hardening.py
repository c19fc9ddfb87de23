"""Hostile and careless inputs: each answered in one line, with memory bounded and nothing written
outside the folder named."""

import json

import cv2
import numpy as np
import pytest

from edgeclf.edge.errors import InputImageError
from edgeclf.edge.images import FULL_DECODE_PIXELS, decode_image

from conftest import ROOT, needs_schema, one_line, run_cli
from photos import phone_jpeg

PHOTOS = ROOT / "tests" / "fixtures" / "photos"
PHOTO = next((PHOTOS / "images").glob("*.jpg"))


def test_a_large_16_bit_rgba_png_decodes_to_8_bit_colour_at_a_bounded_size():
    """4900x4900 16-bit RGBA is 192 MB decoded as it is (1.3 GB at peak the old way, with the
    alpha blend in float32); decoded straight to 8-bit colour and shrunk, it is 24 MB."""
    big = np.zeros((4900, 4900, 4), np.uint16)
    big[1000:3900, 1500:3400] = (20000, 30000, 40000, 65535)
    data = cv2.imencode(".png", big)[1].tobytes()
    assert len(data) < 1_000_000  # a small upload
    image = decode_image(data)
    assert image.dtype == np.uint8 and image.shape[2] == 3
    assert image.shape[0] * image.shape[1] <= FULL_DECODE_PIXELS
    assert image[image.shape[0] // 2, image.shape[1] // 2].tolist() == [78, 117, 156]


def test_a_large_jpeg_is_shrunk_by_libjpeg_as_it_decodes():
    photo = cv2.resize(cv2.imread(str(PHOTO)), (7000, 7000))
    image = decode_image(cv2.imencode(".jpg", photo)[1].tobytes())
    assert image.shape == (1750, 1750, 3)  # 1/4 scale: 3 MP, never the 49 MP


def test_a_motion_photo_classifies_like_the_jpeg_without_its_video():
    """Samsung and Pixel motion photos append an MP4 after the JPEG's end marker."""
    jpeg = PHOTO.read_bytes()
    video = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40 + b"\xff\xd9\xff\xd8"
    assert np.array_equal(decode_image(jpeg + video), decode_image(jpeg))
    with pytest.raises(InputImageError, match="truncated JPEG"):
        decode_image(jpeg[: len(jpeg) // 2])


PHONE_JPEGS = {
    "exif-thumbnail": {"thumbnail": True},
    "icc-profile": {"thumbnail": False},
    "mpf-second-image": {"thumbnail": False, "icc": False, "mpf": True},
    "all-and-video": {"mpf": True, "video": True},
}


@pytest.mark.parametrize("kind", PHONE_JPEGS)
def test_a_phone_jpeg_decodes_like_the_plain_jpeg(kind):
    """An Exif thumbnail has its own scan and end marker inside APP1: they never end the image."""
    jpeg = PHOTO.read_bytes()
    phone = phone_jpeg(jpeg, **PHONE_JPEGS[kind])
    assert cv2.imdecode(np.frombuffer(phone, np.uint8), cv2.IMREAD_COLOR) is not None
    assert np.array_equal(decode_image(phone), decode_image(jpeg))
    cut = (
        phone[: len(phone) // 2]
        if kind != "all-and-video"
        else phone[: phone.index(b"ftypmp42") // 2]
    )
    with pytest.raises(InputImageError, match="truncated|corrupt"):
        decode_image(cut)


def test_the_cli_and_serve_answer_a_phone_jpeg(tmp_path):
    phone = tmp_path / "IMG_20261206_101500.jpg"
    phone.write_bytes(phone_jpeg(PHOTO.read_bytes(), mpf=True, video=True))
    result = run_cli("classify", str(phone), str(PHOTO), "--json")
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.returncode == 0, result.stderr
    assert rows[0]["label"] == rows[1]["label"] and rows[0]["top_k"] == rows[1]["top_k"]
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from edgeclf.edge.runtime.classifier import Classifier
    from edgeclf.edge.serve.app import create_app

    with TestClient(create_app(Classifier(), None)) as client:
        answers = [
            client.post("/classify", files={"file": ("p.jpg", data, "image/jpeg")})
            for data in (phone.read_bytes(), PHOTO.read_bytes())
        ]
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[0].json()["top_k"] == answers[1].json()["top_k"]


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (
            b"\x00\x00\x00\x18ftypheic" + bytes(100),
            "HEIC/AVIF is not read here: save the photo as JPEG",
        ),
        (b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 7000 +X 7000\n", "not an image (JPEG, PNG"),
    ],
)
def test_formats_that_are_not_read_are_refused_unread(data, says):
    with pytest.raises(InputImageError, match=says.replace("(", r"\(").replace(")", r"\)")):
        decode_image(data)


def test_a_tiff_over_its_bound_is_refused_from_its_header():
    header = bytearray(b"II*\x00\x08\x00\x00\x00\x02\x00")  # two entries: width, height
    for tag in (256, 257):
        header += tag.to_bytes(2, "little") + (4).to_bytes(2, "little") + (1).to_bytes(4, "little")
        header += (6000).to_bytes(4, "little")
    with pytest.raises(InputImageError, match="TIFF of 36 megapixels is not read"):
        decode_image(bytes(header))


def test_the_cli_and_serve_answer_a_motion_photo(tmp_path):
    motion = tmp_path / "PXL_20261202_MP.jpg"
    motion.write_bytes(PHOTO.read_bytes() + b"\x00\x00\x00\x18ftypmp42" + bytes(5000))
    rows = [
        json.loads(line)
        for line in run_cli("classify", str(motion), str(PHOTO), "--json").stdout.splitlines()
    ]
    assert rows[0]["label"] == rows[1]["label"] and rows[0]["top_k"] == rows[1]["top_k"]


# --- outputs ------------------------------------------------------------------------------------


def audit_folder(tmp_path):
    folder = tmp_path / "catalog" / "Trouser"
    folder.mkdir(parents=True)
    (folder / "a.jpg").write_bytes(PHOTO.read_bytes())
    return folder.parent


def test_an_output_that_is_an_input_is_refused_before_any_work(tmp_path, video_file):
    catalog = tmp_path / "catalog.csv"
    catalog.write_text(f"path,label\n{PHOTO},Trouser\n")
    before = catalog.read_bytes()
    args = ("classify", str(PHOTO), "--expect", str(catalog), "--report", str(catalog))
    assert "--report" in one_line(run_cli(*args)) and "is an input of this command" in one_line(
        run_cli(*args)
    )
    assert catalog.read_bytes() == before
    clip = video_file.read_bytes()
    record = ("camera", "--source", str(video_file), "--headless", "--record", str(video_file))
    assert "is an input of this command" in one_line(run_cli(*record))
    assert video_file.read_bytes() == clip
    model = tmp_path / "m.tflite"
    model.write_bytes((ROOT / "models" / "fashion_int8.tflite").read_bytes())
    bench = ("bench", "--model", str(model), "--runs", "10", "--limit", "20", "--json", str(model))
    assert "is an input of this command" in one_line(run_cli(*bench))


def test_a_symlinked_or_device_output_is_written_through_never_replaced(tmp_path):
    import os
    import threading

    catalog = audit_folder(tmp_path)
    link = tmp_path / "stdout-link"
    link.symlink_to("/dev/null")
    result = run_cli("classify", str(catalog), "--expect-dirs", "--report", str(link))
    assert result.returncode == 0, result.stderr
    assert link.is_symlink() and os.readlink(link) == "/dev/null"
    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()))
    reader.start()
    result = run_cli("classify", str(catalog), "--expect-dirs", "--report", str(fifo))
    reader.join(timeout=30)
    assert result.returncode == 0 and received[0].startswith("path,catalog,predicted,score")
    assert fifo.is_fifo()


def test_outputs_that_cannot_be_written_fail_in_one_line_before_the_batch(tmp_path):
    catalog = audit_folder(tmp_path)
    long_name = "a" * 300
    for report, says in (
        ("/proc/x.csv", "--report /proc: "),  # root: "cannot write there"; others: "not writable"
        (str(tmp_path / f"{long_name}.csv"), ".csv: File name too long"),
    ):
        result = run_cli("classify", str(catalog), "--expect-dirs", "--report", report)
        assert says in one_line(result) and result.stdout == ""  # before any image
    for args in (
        ("classify", str(tmp_path / f"{long_name}.png")),
        ("classify", str(PHOTO), "--model", str(tmp_path / f"{long_name}.tflite")),
    ):
        assert "File name too long" in one_line(run_cli(*args))


def test_file_names_that_are_not_utf8_print_where_stdout_is_strict(tmp_path):
    """`caf\\xe9.jpg` (Latin-1 bytes) in tables, views and reports, with stdout strict UTF-8."""
    import os
    import subprocess

    from conftest import EDGECLF

    folder = tmp_path / "Trouser"
    folder.mkdir()
    (folder / os.fsdecode(b"caf\xe9.jpg")).write_bytes(PHOTO.read_bytes())
    env = {**os.environ, "PYTHONIOENCODING": "utf-8:strict"}

    def run(*args):
        done = subprocess.run(
            [EDGECLF, "classify", str(tmp_path), *args], capture_output=True, env=env
        )
        assert done.returncode == 0 and b"Traceback" not in done.stderr, done.stderr
        return done.stdout

    assert b"caf\xe9.jpg" in run()
    views = tmp_path.parent / f"{tmp_path.name}-views"
    run("--save-input", str(views))
    assert os.listdir(os.fsencode(views)) == [b"caf\xe9.png"]
    report = tmp_path.parent / f"{tmp_path.name}-report.csv"
    run("--expect-dirs", "--report", str(report))
    assert b"caf\xe9.jpg" in report.read_bytes()


def test_collect_refuses_a_class_that_is_a_file_and_a_full_disk_leaves_no_litter(
    tmp_path, video_file, monkeypatch
):
    from pathlib import Path

    from edgeclf.edge.atomic import write_new
    from edgeclf.edge.errors import WriteError

    (tmp_path / "jeans").write_text("not a folder")
    args = ("camera", "--source", str(video_file), "--headless", "--collect", str(tmp_path))
    assert "is a file, not a class folder" in one_line(run_cli(*args, "--label", "jeans"))

    def full(self, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", full)
    with pytest.raises(WriteError, match="cannot save .*No space left on device"):
        write_new(tmp_path / "shorts" / "a.jpg", b"jpeg")
    assert [p.name for p in (tmp_path / "shorts").iterdir()] == []


@pytest.fixture(scope="module")
def video_file(tmp_path_factory, test_split):
    from edgeclf.edge.datasets.synthetic import write_demo_video

    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    write_demo_video(path, test_split.images[:2], frames_per_garment=5)
    return path


# --- sources and options --------------------------------------------------------------------------


def test_a_recording_keeps_every_frame_when_the_source_changes_size(tmp_path, monkeypatch):
    from edgeclf.edge.live import stream
    from edgeclf.edge.live.camera import CameraOptions, run_camera
    from edgeclf.edge.runtime.classifier import Classifier

    class Resizing:
        """20 frames of 640x480, then 20 of 1280x720, as a camera switching modes."""

        is_file, fps, n = True, 30.0, 0

        def read(self):
            self.n += 1
            if self.n > 40:
                return None
            w, h = (640, 480) if self.n <= 20 else (1280, 720)
            frame = np.full((h, w, 3), 200, np.uint8)
            frame[h // 4 : 3 * h // 4, w // 3 : 2 * w // 3] = (40, 60, 90)
            return frame

        def release(self):
            pass

    monkeypatch.setattr(stream, "open_source", lambda *a, **k: Resizing())
    out = tmp_path / "run.mp4"
    opts = CameraOptions(headless=True, record=out)
    summary = run_camera(Classifier(), stream.LiveOptions(source="fake"), opts, emit=lambda s: None)
    recording = cv2.VideoCapture(str(out))
    frames = 0
    while recording.read()[0]:
        frames += 1
    assert summary.frames == frames == 40
    assert (recording.get(cv2.CAP_PROP_FRAME_WIDTH), recording.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (
        640,
        480,
    )


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("camera", "--smooth", "nan"), "--smooth nan: give a finite number"),
        (("camera", "--threshold", "nan"), "--threshold nan: give a finite number"),
        (("serve", "--max-upload-mb", "inf"), "--max-upload-mb inf: give a finite number"),
        (("camera", "--source", "99999999999999999999"), "no camera has that index"),
        (("serve", "--source", "99999999999999999999"), "no camera has that index"),
        (("camera", "--source", str(ROOT / "tests")), "is a folder: give a video file"),
    ],
)
def test_bad_numbers_and_sources_are_one_line(args, says):
    result = run_cli(*args, "--headless" if args[0] == "camera" else "--port=18999")
    assert says in one_line(result)


def test_bench_checks_its_reference_and_no_garment_folder_before_the_accuracy_pass(tmp_path):
    fashion = str(ROOT / "models" / "fashion_int8.tflite")
    result = run_cli("bench", "--reference", fashion, "--runs", "10")
    assert "sees 28x28 gray, fashion-mnist recipe, photo_int8.tflite sees 64x64 colour" in one_line(
        result
    )
    (tmp_path / "notes.txt").write_text("x")
    result = run_cli("bench", "--no-garment", str(tmp_path), "--runs", "10")
    assert "no images in the folder" in one_line(result)


@needs_schema
def test_a_class_folder_named_in_latin_1_teaches_and_plots(tmp_path):
    """`caf\\xe9/` from an old camera or a Windows share: split, taught, named, drawn."""
    import os
    import shutil

    from edgeclf.edge.plots import confusion_matrix, shown

    photos = sorted((ROOT / "tests" / "fixtures" / "photos" / "images").glob("*.jpg"))
    latin = tmp_path / "shop" / os.fsdecode(b"caf\xe9")
    latin.mkdir(parents=True)
    (tmp_path / "shop" / "tea").mkdir()
    for i, photo in enumerate(photos[:24]):
        shutil.copy(photo, latin if i < 12 else tmp_path / "shop" / "tea")
    env = {"PYTHONIOENCODING": "utf-8:strict"}
    out = tmp_path / "shop.tflite"
    result = run_cli("teach", str(tmp_path / "shop"), "-o", str(out), env=env)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert json.loads(out.with_suffix(".json").read_text())["classes"] == [latin.name, "tea"]
    long_name = tmp_path / "shop" / ("L" * 250)  # a folder name the file system took is one
    latin.rename(long_name)
    result = run_cli("teach", str(tmp_path / "shop"), "-o", str(out), env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(out.with_suffix(".json").read_text())["classes"] == [long_name.name, "tea"]
    assert shown(latin.name) == "café"
    classes = (latin.name, "tea")
    confusion_matrix(np.array([0, 1]), np.array([0, 0]), tmp_path / "c.png", classes)
    assert (tmp_path / "c.png").stat().st_size > 0


# --- damaged models -------------------------------------------------------------------------------

MODEL = ROOT / "models" / "fashion_int8.tflite"


def test_a_model_too_large_for_the_device_is_refused_unread(tmp_path):
    sparse = tmp_path / "huge.tflite"
    with open(sparse, "wb") as f:
        f.truncate(3 * 2**30)  # 3 GB, no disk used
    stderr = one_line(run_cli("classify", str(PHOTO), "--model", str(sparse)))
    assert "is 3.0 GB: not a model for this device" in stderr


def test_tensors_declared_beyond_any_device_are_refused_before_allocation(tmp_path):
    """A flipped byte in a shape can make an interpreter allocate gigabytes: the shapes are read
    (with `struct`, bounds-checked) and refused first."""
    import struct

    from edgeclf.edge.tflite.flatbuffer import Flatbuffer, declared_tensor_bytes

    data = bytearray(MODEL.read_bytes())
    fb = Flatbuffer(memoryview(data))
    subgraph = fb.tables(fb.field(fb.u32(0), 2))[0]
    tensor = fb.tables(fb.field(subgraph, 0))[0]
    start, count = fb.vector(fb.field(tensor, 0))
    del fb
    struct.pack_into("<i", data, start + 4 * (count - 1), 1 << 28)  # one dimension: 268 million
    assert max(declared_tensor_bytes(bytes(data))) > 2**28
    damaged = tmp_path / "flipped.tflite"
    damaged.write_bytes(bytes(data))
    assert "declares tensors of" in one_line(
        run_cli("classify", str(PHOTO), "--model", str(damaged))
    )
    cut = tmp_path / "cut.tflite"
    cut.write_bytes(MODEL.read_bytes()[:20_000])
    assert "cut short?" in one_line(run_cli("classify", str(PHOTO), "--model", str(cut)))


def test_a_card_less_model_is_tried_in_a_child_under_a_memory_limit(monkeypatch, tmp_path):
    from edgeclf.edge.runtime import probe

    alone = tmp_path / "m.tflite"
    alone.write_bytes(MODEL.read_bytes())
    assert probe.probe_failure(alone, None) is None
    monkeypatch.setattr(probe, "PROBE_MEMORY", 64 * 2**20)  # too little for any interpreter
    assert "cannot load and run once within" in probe.probe_failure(alone, None)


def test_an_interpreter_error_reads_as_two_sentences():
    from edgeclf.edge.runtime.classifier import interpreter_message

    error = RuntimeError("gather index out of boundsNode number 4 (GATHER) failed to invoke.")
    assert interpreter_message(error) == (
        "gather index out of bounds. Node number 4 (GATHER) failed to invoke."
    )


def test_a_jpeg_whose_image_data_ends_early_is_refused_not_guessed():
    """libjpeg fills the missing blocks with gray and warns on stderr: the model would name a
    garment in the gray (Pullover 57 % on one such file)."""
    jpeg = PHOTO.read_bytes()
    scan = jpeg.index(b"\xff\xda")
    cut = jpeg[: scan + (len(jpeg) - scan) // 3] + b"\xff\xd9"  # an end marker, data missing
    with pytest.raises(InputImageError, match="corrupt JPEG"):
        decode_image(cut)


def test_a_class_folder_replaced_by_a_file_is_a_write_error_not_a_crash(tmp_path):
    """serve answers 507 for a WriteError; an OSError from the clean-up once hid it (a 500)."""
    from edgeclf.edge.atomic import write_new
    from edgeclf.edge.errors import WriteError

    (tmp_path / "jeans").write_text("not a folder")
    with pytest.raises(WriteError, match="cannot save"):
        write_new(tmp_path / "jeans" / "a.jpg", b"jpeg")


def test_a_truncated_video_plays_what_it_has_without_ffmpegs_own_lines(tmp_path):
    """A camera's file cut short (a full card, a pulled cable): the frames that are there, and no
    '[mjpeg @ 0x...] overread' lines from FFmpeg around edgeclf's own."""
    clip = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 30, (320, 240))
    rng = np.random.default_rng(0)
    photo = cv2.resize(cv2.imread(str(PHOTO)), (160, 120))
    for i in range(30):
        frame = np.full((240, 320, 3), 210, np.uint8)
        frame[60:180, 80 + i % 10 : 240 + i % 10] = photo
        writer.write(frame + rng.integers(0, 6, frame.shape, dtype=np.uint8))
    writer.release()
    data = clip.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) // 2 + 1234])  # mid-frame
    result = run_cli("camera", "--source", str(cut), "--headless", "--max-frames", "40")
    assert result.returncode == 0 and len(result.stdout.splitlines()) >= 5, result.stderr
    assert " @ 0x" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
