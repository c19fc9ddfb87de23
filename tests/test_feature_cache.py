"""The feature cache is a convenience, never a reason to fail: unwritable, damaged, symlinked or
bloated, teaching goes on with a note, and nothing is written outside it."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from edgeclf.edge.runtime.classifier import Classifier
from edgeclf.edge.teach.feature_cache import LAYOUT, MAX_SHARD_BYTES, FeatureCache
from edgeclf.edge.teach.features import FeatureReader

from conftest import ROOT, needs_schema

PHOTOS = sorted((ROOT / "tests" / "fixtures" / "photos" / "images").glob("*.jpg"))


@pytest.fixture
def reader(tmp_path, monkeypatch):
    """A reader of the bundled photo model's features (cut with LiteRT's TFLite schema)."""
    if needs_schema.args[0]:
        pytest.skip(needs_schema.kwargs["reason"])
    monkeypatch.setenv("EDGECLF_CACHE", str(tmp_path / "cache"))
    return FeatureReader(Classifier())


def shards(tmp_path) -> list[Path]:
    return sorted((tmp_path / "cache" / "edgeclf" / LAYOUT).glob("*/*.bin"))


def test_features_come_back_from_the_cache_exactly(tmp_path, reader):
    first = reader.read_all(PHOTOS[:8])
    assert reader.new == 8 and not first.notes and shards(tmp_path)
    again = FeatureReader(reader.base)
    second = again.read_all(PHOTOS[:8])
    assert again.new == 0 and np.array_equal(first.features, second.features)
    folder = shards(tmp_path)[0].parent
    assert oct(folder.stat().st_mode & 0o777) == "0o700"


def test_twenty_new_photos_rewrite_only_their_own_shards(tmp_path, reader):
    reader.read_all(PHOTOS[:30])
    before = {p: p.stat().st_mtime_ns for p in shards(tmp_path)}
    time.sleep(0.01)
    again = FeatureReader(reader.base)
    again.read_all(PHOTOS[28:])  # 2 cached, 10 new
    changed = [p for p in shards(tmp_path) if before.get(p) != p.stat().st_mtime_ns]
    assert again.new == 10 and len(changed) <= 10


@needs_schema
def test_an_unwritable_cache_is_one_note_and_teaching_goes_on(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("EDGECLF_CACHE", str(blocker))
    table = FeatureReader(Classifier()).read_all(PHOTOS[:3])
    assert table.readable.all() and len(table.notes) == 1
    assert "feature cache not saved" in table.notes[0] and "goes on" in table.notes[0]


@pytest.mark.parametrize("damage", ["cut", "grown", "bomb"])
def test_a_damaged_shard_is_set_aside_and_its_photos_read_again(tmp_path, reader, damage):
    good = reader.read_all(PHOTOS[:6])
    shard = shards(tmp_path)[0]
    data = shard.read_bytes()
    if damage == "cut":
        shard.write_bytes(data[:-7])
    elif damage == "grown":
        shard.write_bytes(data + b"\x00" * 5)
    else:  # a file far bigger than any shard could need is never read into memory
        with open(shard, "wb") as f:
            f.truncate(MAX_SHARD_BYTES + 352 * 10)
    again = FeatureReader(reader.base)
    table = again.read_all(PHOTOS[:6])
    assert np.array_equal(table.features, good.features) and again.new >= 1
    assert any("damaged feature cache" in note for note in table.notes)
    assert shard.stat().st_size % again.cache.record.itemsize == 0  # written whole again
    assert shard.stat().st_size < 10_000


def test_a_planted_symlink_is_replaced_never_followed(tmp_path, reader):
    reader.read_all(PHOTOS[:1])
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    folder = shards(tmp_path)[0].parent
    for n in range(256):
        shard = folder / f"{n:02x}.bin"
        shard.unlink(missing_ok=True)
        shard.symlink_to(victim)
    table = FeatureReader(reader.base).read_all(PHOTOS[:5])
    assert table.readable.all() and victim.read_text() == "precious"
    written = [p for p in shards(tmp_path) if not p.is_symlink()]
    assert 1 <= len(written) <= 5 and all(p.stat().st_size % (32 + 320) == 0 for p in written)


@pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() != 0, reason="needs root to chown")
def test_a_folder_owned_by_another_user_is_not_used(tmp_path):
    cache = FeatureCache("k" * 16, 4, tmp_path)
    cache.folder.mkdir(parents=True)
    os.chown(cache.folder, 12345, 12345)
    cache.put(bytes(32), np.zeros((2, 4), np.int8))
    assert "owned by another user" in cache.save()
    assert not list(cache.folder.iterdir())


@needs_schema
def test_ctrl_c_keeps_the_features_already_read(tmp_path):
    """A teach interrupted while reading photos saves what it read: the next run starts there."""
    photos = tmp_path / "photos" / "images"
    photos.mkdir(parents=True)
    for i in range(400):  # enough photos to be interrupted among them
        shutil.copy(PHOTOS[i % len(PHOTOS)], photos / f"{i:03d}.jpg")
        with open(photos / f"{i:03d}.jpg", "ab") as f:
            f.write(i.to_bytes(2, "big"))  # another key each: all must be read
    script = (
        "import signal, sys, time\n"
        # Ctrl-C as a terminal gives it: a shell's background job inherits SIGINT ignored
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "from pathlib import Path\n"
        "from edgeclf.edge.runtime.classifier import Classifier\n"
        "from edgeclf.edge.teach.features import FeatureReader\n"
        "r = FeatureReader(Classifier())\n"
        f"paths = sorted(Path({str(photos)!r}).glob('*.jpg'))\n"
        # at the 40th photo it says so and waits for the Ctrl-C (a fast reader would finish first)
        "r.read_all(paths, lambda d, t: (print(d, flush=True), time.sleep(60)) if d == 40 else 0)\n"
    )
    env = {**os.environ, "EDGECLF_CACHE": str(tmp_path / "cache")}
    proc = subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE)
    assert proc.stdout.readline().strip() == b"40"
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    assert proc.returncode != 0  # interrupted
    files = sorted((tmp_path / "cache" / "edgeclf" / LAYOUT).glob("*/*.bin"))
    record = 32 + 2 * 160
    saved = sum(p.stat().st_size for p in files) // record
    assert 40 <= saved < 400, saved
