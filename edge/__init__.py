"""edgeclf edge runtime: everything that runs on the device, without TensorFlow."""

import os

# OpenCV reads this once, at its first import: no decoder may allocate more pixels than the
# runtime accepts (images.MAX_PIXELS; formats whose header edgeclf does not read itself).
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", "50000000")


def __getattr__(name: str):
    # Resolved lazily: importlib.metadata costs ~20 ms, and `classify` start-up is part of the product.
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("edgeclf")
        except PackageNotFoundError:  # a source tree that is not installed
            return "0.0.0+local"
    raise AttributeError(name)
