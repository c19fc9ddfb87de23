import gzip

import numpy as np
import pytest

from edgeclf.edge.datasets import fashion_mnist as dataset
from edgeclf.edge.datasets.fashion_mnist import DataError, balanced_subset, load_split, read_idx


def test_reads_real_idx_fixture(mini_dir):
    train = load_split("train", mini_dir)
    test = load_split("test", mini_dir)
    assert train.images.shape == (600, 28, 28) and train.images.dtype == np.uint8
    assert test.images.shape == (200, 28, 28)
    assert np.bincount(train.labels, minlength=10).tolist() == [60] * 10
    assert 0 < train.images.mean() < 255  # real pixels, not zeros


def test_bundled_test_split_is_complete(test_split):
    assert len(test_split) == 10000
    assert np.bincount(test_split.labels).tolist() == [1000] * 10


def copy_with(tmp_path, mini_dir, name, data):
    for f in mini_dir.iterdir():
        (tmp_path / f.name).write_bytes(f.read_bytes())
    (tmp_path / name).write_bytes(data)
    return tmp_path


def test_corrupt_file_is_one_clear_error(tmp_path, mini_dir):
    folder = copy_with(tmp_path, mini_dir, "t10k-images-idx3-ubyte.gz", b"not gzip at all" * 10)
    with pytest.raises(DataError, match="corrupt or truncated"):
        load_split("test", folder)


def test_truncated_file(tmp_path, mini_dir):
    raw = gzip.decompress((mini_dir / "t10k-images-idx3-ubyte.gz").read_bytes())
    folder = copy_with(tmp_path, mini_dir, "t10k-images-idx3-ubyte.gz", gzip.compress(raw[:-500]))
    with pytest.raises(DataError, match="truncated"):
        load_split("test", folder)
    cut_gzip = (mini_dir / "t10k-images-idx3-ubyte.gz").read_bytes()[:-100]
    folder = copy_with(tmp_path, mini_dir, "t10k-images-idx3-ubyte.gz", cut_gzip)
    with pytest.raises(DataError, match="corrupt or truncated"):
        load_split("test", folder)


def test_wrong_magic(tmp_path, mini_dir):
    labels = (mini_dir / "t10k-labels-idx1-ubyte.gz").read_bytes()
    folder = copy_with(tmp_path, mini_dir, "t10k-images-idx3-ubyte.gz", labels)
    with pytest.raises(DataError, match="magic 2049, want 2051"):
        load_split("test", folder)


def test_missing_files_say_where(tmp_path):
    with pytest.raises(DataError, match=r"--data-dir .* lacks train-images-idx3-ubyte.gz"):
        load_split("train", tmp_path)


def test_lookup_order_env_then_keras_cache(tmp_path, mini_dir, monkeypatch):
    monkeypatch.setenv("EDGECLF_DATA_DIR", str(mini_dir))
    assert load_split("train").source == mini_dir
    monkeypatch.delenv("EDGECLF_DATA_DIR")
    cache = tmp_path / "cache"
    cache.mkdir()
    for f in mini_dir.glob("train-*"):
        (cache / f.name).write_bytes(f.read_bytes())
    monkeypatch.setattr(dataset, "KERAS_CACHE_DIR", cache)
    assert load_split("train").source == cache
    assert load_split("test").source == dataset.BUNDLED_DIR  # the cache lacks test: bundled copy


def test_offline_download_fails_clearly_and_leaves_no_partial_file(tmp_path, monkeypatch):
    monkeypatch.delenv("EDGECLF_DATA_DIR", raising=False)
    cache = tmp_path / "cache"
    monkeypatch.setattr(dataset, "KERAS_CACHE_DIR", cache)

    def offline(url, target):
        from pathlib import Path

        Path(target).write_bytes(b"partial")  # a download that dies half-way
        raise OSError("network unreachable")

    import urllib.request

    monkeypatch.setattr(urllib.request, "urlretrieve", offline)
    with pytest.raises(DataError, match="cannot download train-images-idx3-ubyte.gz"):
        load_split("train")
    assert [p.name for p in cache.rglob("*")] == []


def test_read_idx_labels(mini_dir):
    labels = read_idx(mini_dir / "train-labels-idx1-ubyte.gz", dataset.LABEL_MAGIC)
    assert labels.shape == (600,) and labels.max() == 9


def test_balanced_subset_is_balanced(test_split):
    keep = balanced_subset(test_split.labels, 103, seed=3)
    counts = np.bincount(test_split.labels[keep], minlength=10)
    assert counts.sum() == 103 and counts.max() - counts.min() <= 1
    assert len(np.unique(keep)) == 103
