"""edgeclf edge runtime: everything that runs on the device, without TensorFlow."""

import os

# The most pixels an input image may have (a 1 GB Raspberry Pi must decode it with room to
# spare; 50 MP covers any phone camera). OpenCV reads its own limit once, at its first import,
# and applies it to the formats whose header edgeclf does not read itself (images.py).
MAX_PIXELS = 50_000_000
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(MAX_PIXELS))


def __getattr__(name: str):
    # Resolved lazily: importlib.metadata costs ~20 ms, and `classify` start-up is part of the product.
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("edgeclf")
        except PackageNotFoundError:  # a source tree that is not installed
            return "0.0.0+local"
    raise AttributeError(name)
