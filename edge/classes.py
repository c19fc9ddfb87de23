"""The Fashion-MNIST class names: the single source used by every stage."""

CLASS_NAMES: tuple[str, ...] = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
NUM_CLASSES = len(CLASS_NAMES)


def class_index(name: str) -> int:
    """Index of a class name, forgiving case, spaces, '_' and '-' (catalog folders say `ankle_boot`)."""
    wanted = _fold(name)
    for i, known in enumerate(CLASS_NAMES):
        if wanted in (_fold(known), *(_fold(p) for p in known.split("/"))):
            return i
    raise ValueError(f"unknown class {name!r}; allowed: {', '.join(CLASS_NAMES)}")


def _fold(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())
