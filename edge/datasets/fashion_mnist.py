"""Fashion-MNIST from the original IDX files, checked byte for byte before use.

Lookup order: an explicit folder, `$EDGECLF_DATA_DIR`, the Keras cache, the copy of the test
split bundled with this package (test split only), and only then a download through Keras.
"""

from __future__ import annotations

import gzip
import os
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import package_dir
from ..errors import DataError

IMAGE_MAGIC = 2051
LABEL_MAGIC = 2049
FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
BUNDLED_DIR = package_dir("edgeclf.edge") / "data"  # the test split, shipped with the package
KERAS_CACHE_DIR = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets"
KERAS_CACHE_DIR = KERAS_CACHE_DIR / "fashion-mnist"
DOWNLOAD_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
ENV_VAR = "EDGECLF_DATA_DIR"


@dataclass(frozen=True)
class Split:
    images: np.ndarray  # (N, 28, 28) uint8, object light on black
    labels: np.ndarray  # (N,) uint8 class indices
    source: Path

    def __len__(self) -> int:
        return len(self.labels)


def read_idx(path: Path, magic: int) -> np.ndarray:
    """Read one gzipped IDX file, checking magic number, dimensions and length."""
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise DataError(f"missing data file: expected {path}") from None
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"corrupt or truncated data file {path}: {exc}") from None
    ndim = magic - 2048
    if len(raw) < 4 + 4 * ndim or int.from_bytes(raw[:4], "big") != magic:
        found = int.from_bytes(raw[:4], "big") if len(raw) >= 4 else None
        raise DataError(
            f"{path}: not an IDX file of the expected kind (magic {found}, want {magic})"
        )
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    body = raw[4 + 4 * ndim :]
    if len(body) != int(np.prod(shape)):
        raise DataError(f"{path}: truncated, {len(body)} of {int(np.prod(shape))} data bytes")
    return np.frombuffer(body, dtype=np.uint8).reshape(shape)


def read_split(folder: Path, split: str) -> Split:
    """Read one split from a folder holding the original file names."""
    image_name, label_name = FILES[split]
    images = read_idx(folder / image_name, IMAGE_MAGIC)
    labels = read_idx(folder / label_name, LABEL_MAGIC)
    if images.shape[1:] != (28, 28):
        raise DataError(f"{folder / image_name}: images are {images.shape[1:]}, expected (28, 28)")
    if len(labels) != len(images):
        raise DataError(f"{folder}: {len(images)} images but {len(labels)} labels for {split}")
    if labels.size and labels.max() > 9:
        raise DataError(f"{folder / label_name}: label {labels.max()} out of range 0-9")
    return Split(images, labels, folder)


def has_split(folder: Path, split: str) -> bool:
    return all((folder / name).is_file() for name in FILES[split])


def candidate_dirs(data_dir: str | os.PathLike | None) -> list[tuple[str, Path]]:
    """Where to look, in order. An explicit folder or variable is the only place looked at."""
    if data_dir:
        return [("--data-dir", Path(data_dir))]
    if os.environ.get(ENV_VAR):
        return [(f"${ENV_VAR}", Path(os.environ[ENV_VAR]))]
    return [("Keras cache", KERAS_CACHE_DIR), ("bundled test split", BUNDLED_DIR)]


def load_split(
    split: str, data_dir: str | os.PathLike | None = None, download: bool = True
) -> Split:
    """Load `train` or `test`, downloading into the Keras cache only as the last resort."""
    if split not in FILES:
        raise ValueError(f"split must be one of {sorted(FILES)}")
    places = candidate_dirs(data_dir)
    for _, folder in places:
        if has_split(folder, split):
            return read_split(folder, split)
    if len(places) == 1:
        label, folder = places[0]
        missing = [n for n in FILES[split] if not (folder / n).is_file()]
        raise DataError(f"{label} {folder} lacks {', '.join(missing)}")
    if not download:
        raise DataError(f"Fashion-MNIST {split} split not found; set {ENV_VAR} or pass --data-dir")
    download_to_cache(split)
    return read_split(KERAS_CACHE_DIR, split)


def download_to_cache(split: str) -> None:
    """Fetch one split into a temp folder, verify it, then move it into the cache (Keras's, so
    a desktop that ever loaded Fashion-MNIST with Keras already has it)."""
    from urllib.request import urlretrieve

    KERAS_CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=KERAS_CACHE_DIR) as tmp:
        for name in FILES[split]:
            try:
                urlretrieve(DOWNLOAD_URL + name, Path(tmp) / name)
            except Exception as exc:  # urllib/HTTP errors come in many types
                raise DataError(
                    f"cannot download {name} ({type(exc).__name__}); offline? Put the four "
                    f"Fashion-MNIST .gz files in a folder and set {ENV_VAR} or pass --data-dir"
                ) from None
        read_split(Path(tmp), split)  # verify before anything lands in the cache
        for name in FILES[split]:
            os.replace(Path(tmp) / name, KERAS_CACHE_DIR / name)


def balanced_subset(labels: np.ndarray, limit: int, seed: int = 0) -> np.ndarray:
    """Indices of a class-balanced subset of `limit` items (as even as the counts allow)."""
    if limit >= len(labels):
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    per_class = [rng.permutation(np.flatnonzero(labels == c)) for c in classes]
    take = np.full(len(classes), limit // len(classes))
    take[: limit % len(classes)] += 1
    chosen = np.concatenate([idx[:k] for idx, k in zip(per_class, take, strict=True)])
    return np.sort(chosen)


def load_subset(
    split: str, data_dir: str | os.PathLike | None = None, limit: int | None = None, seed: int = 0
) -> Split:
    """A split, or a class-balanced subset of `limit` of its images (quick runs, calibration)."""
    data = load_split(split, data_dir)
    if not limit or limit >= len(data):
        return data
    keep = balanced_subset(data.labels, limit, seed)
    return Split(data.images[keep], data.labels[keep], data.source)
