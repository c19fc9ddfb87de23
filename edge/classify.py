"""`edgeclf classify`: a batch of photos through the preprocessing recipe and the classifier."""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .atomic import atomic_path
from .classifier import Classifier
from .errors import InputImageError
from .images import read_image
from .preprocess import preprocess, raw_input


@dataclass
class ClassifyOptions:
    top_k: int = 3
    raw: bool = False
    save_input: Path | None = None


def top_k(probs: np.ndarray, labels: tuple[str, ...], k: int) -> list[dict]:
    order = np.argsort(-probs, kind="stable")[:k]
    return [{"label": labels[i], "score": round(float(probs[i]), 4)} for i in order]


def classify_image(clf: Classifier, image: np.ndarray, k: int = 3) -> dict:
    """Prediction fields shared by `classify` and serve's uploads: label, index, score, top_k."""
    probs = clf.predict(image)[0]
    best = int(np.argmax(probs))
    return {
        "label": clf.labels[best],
        "index": best,
        "score": round(float(probs[best]), 4),
        "top_k": top_k(probs, clf.labels, k),
    }


def classify_path(clf: Classifier, path: Path, opts: ClassifyOptions) -> dict:
    started = time.perf_counter()
    try:
        image = read_image(path)
    except InputImageError as exc:
        return {"path": str(path), "error": str(exc)}
    view = raw_input(image) if opts.raw else preprocess(image)
    result = {"path": str(path), **classify_image(clf, view, opts.top_k)}
    result["ms"] = round((time.perf_counter() - started) * 1000, 2)
    if opts.save_input:
        result["input_png"] = str(save_view(view, path, opts.save_input))
    return result


def save_view(view: np.ndarray, source: Path, folder: Path) -> Path:
    """Write the 28x28 model's-eye view as PNG, never overwriting another image's view."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{source.stem}.png"
    n = 1
    while target.exists():
        target = folder / f"{source.stem}-{n}.png"
        n += 1
    with atomic_path(target) as tmp:
        cv2.imwrite(str(tmp), view)
    return target


def run_batch(
    clf: Classifier, items: list[tuple[Path, str | None]], opts: ClassifyOptions, as_json: bool
) -> list[dict]:
    """Classify every expanded input; stream JSON lines as they come. Returns the result dicts."""
    results = []
    for path, error in items:
        result = {"path": str(path), "error": error} if error else classify_path(clf, path, opts)
        results.append(result)
        if as_json:
            print(json.dumps(result), flush=True)
    return results


def class_counts(results: list[dict]) -> Counter:
    return Counter(r["label"] for r in results if "error" not in r)


def print_json_summary(results: list[dict]) -> None:
    """In --json mode the summary goes to stderr, keeping stdout one object per image."""
    counts = class_counts(results)
    errors = sum("error" in r for r in results)
    print(json.dumps({"summary": dict(counts.most_common()), "errors": errors}), file=sys.stderr)
