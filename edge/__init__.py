"""edgeclf edge runtime: everything that runs on the device, without TensorFlow."""

import os
from importlib.util import find_spec
from pathlib import Path

# The most pixels an input image may have (a 1 GB Raspberry Pi must decode it with room to
# spare; 50 MP covers any phone camera). OpenCV reads its own limit once, at its first import,
# and applies it to the formats whose header edgeclf does not read itself (images.py).
MAX_PIXELS = 50_000_000
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(MAX_PIXELS))
# Interpreter threads a command may ask for: LiteRT segfaults on --threads 100000.
MAX_THREADS = max(64, 4 * (os.cpu_count() or 1))
# FFmpeg's own lines ("[mjpeg @ 0x...] overread 8") on a damaged video say nothing a user can act
# on, and would print before edgeclf's one-line error: quiet (AV_LOG_QUIET), unless asked for.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")


def package_dir(package: str) -> Path:
    """The folder of one of edgeclf's packages, where its bundled files lie.

    Equivalent to `Path(str(importlib.resources.files(package)))` for an installed package,
    without its ~10 ms of imports (tempfile, zipfile) in every `classify`'s start-up. LiteRT
    and OpenCV need real files anyway, so a zipped install was never an option."""
    spec = find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"{package} is not an installed package")
    return Path(spec.submodule_search_locations[0])


def __getattr__(name: str):
    # Resolved lazily: importlib.metadata costs ~20 ms, and `classify` start-up is part of the product.
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("edgeclf")
        except PackageNotFoundError:  # a source tree that is not installed
            return "0.0.0+local"
    raise AttributeError(name)
