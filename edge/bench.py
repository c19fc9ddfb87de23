"""`edgeclf bench`: on-device accuracy, latency and footprint of a TFLite model, no TensorFlow."""

from __future__ import annotations

import os
import platform
import resource
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .classifier import Classifier
from .dataset import balanced_subset, load_split
from .plots import confusion_counts
from .preprocess import preprocess
from .synthetic import garment_frame

SCHEMA = "edgeclf-bench/1"


@dataclass
class BenchOptions:
    data_dir: str | None = None
    limit: int | None = None
    threads: tuple[int, ...] = (1,)
    runs: int = 2000
    warmup: int = 100
    backend: str | None = None
    delegate: str | None = None
    seed: int = 0


def test_images(opts: BenchOptions) -> tuple[np.ndarray, np.ndarray, str]:
    split = load_split("test", opts.data_dir)
    images, labels = split.images, split.labels
    if opts.limit:
        keep = balanced_subset(labels, opts.limit, opts.seed)
        images, labels = images[keep], labels[keep]
    return images, labels, str(split.source)


def accuracy_pass(clf: Classifier, images: np.ndarray, progress=None) -> tuple[np.ndarray, float]:
    """Probabilities for every image, one invoke per image as on a device; and images/second."""
    probs = np.zeros((len(images), len(clf.labels)), np.float32)
    started = time.perf_counter()
    for i, image in enumerate(images):
        probs[i] = clf.predict(image)[0]
        if progress and i % 250 == 0:
            progress(250 if i else 1)
    return probs, len(images) / (time.perf_counter() - started)


def accuracy_report(probs: np.ndarray, labels: np.ndarray, names: tuple[str, ...]) -> dict:
    top1 = probs.argmax(1)
    top2 = np.argsort(-probs, axis=1)[:, :2]
    confusion = confusion_counts(labels, top1)
    per_class = {
        name: float(confusion[i, i] / confusion[i].sum()) if confusion[i].sum() else None
        for i, name in enumerate(names)
    }
    return {
        "n": int(len(labels)),
        "correct": int((top1 == labels).sum()),
        "accuracy": float((top1 == labels).mean()),
        "top2_accuracy": float((top2 == labels[:, None]).any(axis=1).mean()),
        "per_class": per_class,
        "confusion": confusion.tolist(),
    }


def percentiles(samples_ns: np.ndarray) -> dict:
    us = samples_ns / 1000.0
    return {
        "p50": float(np.percentile(us, 50)),
        "p90": float(np.percentile(us, 90)),
        "p99": float(np.percentile(us, 99)),
        "mean": float(us.mean()),
        "runs": int(len(us)),
    }


def latency(clf: Classifier, image: np.ndarray, runs: int, warmup: int) -> dict:
    """Invoke time per image, and the Python overhead of the full `predict` path around it."""
    tensor = clf.quantize(image[None])
    clf.invoke_raw(tensor)
    interpreter = clf.interpreter
    bare = np.empty(runs, np.int64)
    full = np.empty(runs, np.int64)
    clock = time.perf_counter_ns
    for _ in range(warmup):
        interpreter.invoke()
    for i in range(runs):  # the bare interpreter loop: what the model itself costs
        t = clock()
        interpreter.invoke()
        bare[i] = clock() - t
    for i in range(runs):  # our path: quantize, set, invoke, get, dequantize
        t = clock()
        clf.predict(image)
        full[i] = clock() - t
    report = percentiles(bare)
    us = bare / 1000.0
    counts, edges = np.histogram(
        us, bins=40, range=(float(us.min()), float(np.percentile(us, 99.5)))
    )
    report["histogram_us"] = {"edges": edges.round(2).tolist(), "counts": counts.tolist()}
    report["predict_p50"] = float(np.percentile(full, 50) / 1000.0)
    report["overhead_us"] = report["predict_p50"] - report["p50"]
    return report


def preprocess_latency(garment: np.ndarray, runs: int = 200) -> dict:
    frame = garment_frame(garment)
    for _ in range(10):
        preprocess(frame)
    samples = np.empty(runs, np.int64)
    for i in range(runs):
        t = time.perf_counter_ns()
        preprocess(frame)
        samples[i] = time.perf_counter_ns() - t
    return {"frame": "640x480 BGR", **percentiles(samples)}


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if platform.system() == "Darwin" else peak / 1024


def benchmark(
    model: Path | None, opts: BenchOptions, reference: Path | None = None, progress=None
) -> dict:
    """The full report for one model (accuracy at the first thread count, latency for each)."""
    images, labels, source = test_images(opts)
    clf = Classifier(model, backend=opts.backend, threads=opts.threads[0], delegate=opts.delegate)
    probs, images_per_second = accuracy_pass(clf, images, progress)
    report = {
        "schema": SCHEMA,
        "model": str(clf.path),
        "model_bytes": clf.model_bytes,
        "input_dtype": clf.input.dtype.name,
        "flip_average": bool(clf.card and clf.card.get("flip_average")),
        "data": source,
        **accuracy_report(probs, labels, clf.labels),
        "images_per_second": images_per_second,
    }
    if reference is not None:
        ref = Classifier(reference, backend=opts.backend, threads=opts.threads[0])
        ref_probs, _ = accuracy_pass(ref, images)
        ref_acc = float((ref_probs.argmax(1) == labels).mean())
        report["reference"] = {
            "model": str(reference),
            "accuracy": ref_acc,
            "agreement": float((ref_probs.argmax(1) == probs.argmax(1)).mean()),
            "delta_points": 100 * (report["accuracy"] - ref_acc),
        }
    sweep = {}
    for n in opts.threads:
        timed = clf if n == opts.threads[0] else Classifier(model, opts.backend, n, opts.delegate)
        sweep[str(n)] = latency(timed, images[0], opts.runs, opts.warmup)
    first = sweep[str(opts.threads[0])]
    report["latency_us"] = {k: first[k] for k in ("p50", "p90", "p99", "mean")}
    report["python_overhead_us"] = first["overhead_us"]
    report["threads"] = opts.threads[0]
    report["thread_sweep"] = sweep
    report["preprocess_us"] = preprocess_latency(images[0])
    report.update(
        backend=clf.backend.name,
        backend_version=clf.backend.version,
        cpu=cpu_model(),
        cpu_count=os.cpu_count(),
        machine=platform.machine(),
        python=platform.python_version(),
        numpy=np.__version__,
        peak_rss_mb=peak_rss_mb(),
    )
    return report
