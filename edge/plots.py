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


def shown(name: str) -> str:
    """A class name as a font can draw it: a folder name that was not UTF-8 (kept by Python as
    surrogate escapes) is read as Latin-1, as `caf\\xe9` most likely meant `café`."""
    raw = name.encode("utf-8", "surrogateescape")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def training_curves(history: dict[str, list[float]], path: Path) -> None:
    """Loss and accuracy per epoch, with markers so that a one-epoch run still shows its points."""
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator

    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    epochs = np.arange(1, len(history.get("loss", [])) + 1)
    for key, ax in (("loss", ax_loss), ("accuracy", ax_acc)):
        if key in history:
            ax.plot(epochs, history[key], marker="o", markersize=4, label="train (augmented)")
        if f"val_{key}" in history:
            ax.plot(epochs, history[f"val_{key}"], marker="s", markersize=4, label="validation")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
        ax.set_xlim(0.5, len(epochs) + 0.5)
        ax.set_xlabel("epoch")
        ax.set_title(key)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    save(fig, path)


def confusion_matrix(
    rows: np.ndarray,
    predicted: np.ndarray,
    path: Path,
    classes: tuple[str, ...],
    title: str = "",
    row_names: tuple[str, ...] | None = None,
    allowed: np.ndarray | None = None,
) -> np.ndarray:
    """True rows (classes, or sets of classes) against predicted classes, titled with its set.
    Returns the counts drawn."""
    row_names = row_names or classes
    fig, ax = pyplot().subplots(figsize=(7.5, 0.9 + 0.45 * max(len(row_names), 10)))
    matrix = confusion_counts(rows, predicted, len(row_names), len(classes))
    accuracy = None if allowed is None else float((matrix * allowed).sum() / max(1, matrix.sum()))
    confusion_panel(ax, matrix, title, classes, row_names, accuracy, allowed)
    fig.tight_layout()
    save(fig, path)
    return matrix


def confusion_panel(
    ax,
    matrix: np.ndarray,
    title: str,
    classes: tuple[str, ...],
    rows: tuple[str, ...] | None = None,
    accuracy: float | None = None,
    allowed: np.ndarray | None = None,
) -> None:
    """Counts of true rows (classes, a photo folder's own labels, or sets of classes) against
    predicted classes. Where a row allows more than its diagonal (a set mapping), the cells that
    count as right are framed in green."""
    rows = rows or classes
    if accuracy is None:
        accuracy = np.trace(matrix) / max(1, matrix.sum())
    ax.imshow(matrix, cmap="Blues")
    for (i, j), count in np.ndenumerate(matrix):
        colour = "white" if count > matrix.max() / 2 else "black"
        ax.text(j, i, str(count), ha="center", va="center", fontsize=7, color=colour)
    if allowed is not None:
        from matplotlib.patches import Rectangle

        for i, j in zip(*np.nonzero(allowed), strict=True):
            ax.add_patch(
                Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="#1a9641", linewidth=2)
            )
    ax.set_xticks(range(len(classes)), [shown(c) for c in classes], rotation=45, ha="right")
    ax.set_yticks(range(len(rows)), [shown(r) for r in rows])
    ax.set_xlabel("predicted" + ("  (green frame: counts as right)" if allowed is not None else ""))
    ax.set_ylabel("true")
    ax.set_title(f"{title} accuracy {accuracy:.2%} on {matrix.sum():,} images".strip())


def save(fig, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110)
    pyplot().close(fig)
