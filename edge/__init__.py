"""edgeclf edge runtime: everything that runs on the device, without TensorFlow."""


def __getattr__(name: str):
    # Resolved lazily: importlib.metadata costs ~20 ms, and `classify` start-up is part of the product.
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("edgeclf")
        except PackageNotFoundError:  # a source tree that is not installed
            return "0.0.0+local"
    raise AttributeError(name)
