"""PNG plots people would rather look at than read (matplotlib is imported only when plotting)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .atomic import atomic_path
from .metrics import confusion_counts


def pyplot():
    try:
        import matplotlib
    except ImportError:
        from .errors import EdgeclfError

        raise EdgeclfError("plots need matplotlib: pip install matplotlib") from None

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def training_curves(history: dict[str, list[float]], path: Path) -> None:
    plt = pyplot()
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    epochs = np.arange(1, len(history.get("loss", [])) + 1)
    for key, ax in (("loss", ax_loss), ("accuracy", ax_acc)):
        if key in history:
            ax.plot(epochs, history[key], label="train (augmented)")
        if f"val_{key}" in history:
            ax.plot(epochs, history[f"val_{key}"], label="validation")
        ax.set_xlabel("epoch")
        ax.set_title(key)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    save(fig, path)


def confusion_matrix(
    labels: np.ndarray,
    predicted: np.ndarray,
    path: Path,
    classes: tuple[str, ...],
    title: str = "",
) -> None:
    fig, ax = pyplot().subplots(figsize=(7.5, 6.5))
    confusion_panel(
        ax, confusion_counts(labels, predicted, len(classes), len(classes)), title, classes
    )
    fig.tight_layout()
    save(fig, path)


def confusion_panel(
    ax,
    matrix: np.ndarray,
    title: str,
    classes: tuple[str, ...],
    rows: tuple[str, ...] | None = None,
    accuracy: float | None = None,
) -> None:
    """Counts of true rows (classes, or a photo folder's own labels) against predicted classes."""
    rows = rows or classes
    if accuracy is None:
        accuracy = np.trace(matrix) / max(1, matrix.sum())
    ax.imshow(matrix, cmap="Blues")
    for (i, j), count in np.ndenumerate(matrix):
        colour = "white" if count > matrix.max() / 2 else "black"
        ax.text(j, i, str(count), ha="center", va="center", fontsize=7, color=colour)
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(rows)), rows)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{title} accuracy {accuracy:.2%} on {matrix.sum():,} images".strip())


def save(fig, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110)
    pyplot().close(fig)
