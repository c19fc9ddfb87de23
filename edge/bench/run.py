"""`edgeclf bench`: on-device accuracy, latency and footprint of a TFLite model, no TensorFlow."""

from __future__ import annotations

import os
import platform
import resource
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..datasets.photoset import set_correct
from ..datasets.synthetic import garment_frame
from ..errors import EdgeclfError
from ..metrics import confusion_counts, per_class_accuracy, summarize
from ..runtime.classifier import Classifier
from .data import BenchData, fashion_mnist_data, photo_data
from .options import BenchOptions

SCHEMA = "edgeclf-bench/1"


def accuracy_pass(clf: Classifier, images: np.ndarray, progress=None) -> tuple[np.ndarray, float]:
    """Probabilities for every image, one invoke per image as on a device; and images/second."""
    probs = np.zeros((len(images), len(clf.labels)), np.float32)
    started = time.perf_counter()
    for i, image in enumerate(images):
        probs[i] = clf.predict(image)[0]
        if progress and i % 250 == 0:
            progress(250 if i else 1)
    return probs, len(images) / (time.perf_counter() - started)


def accuracy_report(probs: np.ndarray, data: BenchData) -> dict:
    """Top-1 and top-2 (right on any class of an image's set), per row, and the confusion matrix
    of rows (classes, or a photo folder's labels) against predicted classes."""
    top1 = probs.argmax(1)
    top2 = np.argsort(-probs, axis=1)[:, :2]
    n = np.arange(len(top1))
    right = data.allowed[n, top1]
    right2 = right | data.allowed[n, top2[:, 1]]
    confusion = confusion_counts(data.row_index, top1, len(data.rows), probs.shape[1])
    per_class = per_class_accuracy(right, data.row_index, data.rows)
    return {
        "n": int(len(top1)),
        "correct": int(right.sum()),
        "accuracy": float(right.mean()),
        "top2_accuracy": float(right2.mean()),
        "strict_accuracy": strict_accuracy(right, data.allowed),
        "per_class": per_class,
        "confusion": confusion.tolist(),
        "confusion_rows": list(data.rows),
        "confusion_allowed": [
            data.allowed[data.row_index == r].any(0).tolist() for r in range(len(data.rows))
        ],
    }


def strict_accuracy(right: np.ndarray, allowed: np.ndarray) -> float | None:
    """Accuracy on the images whose label allows exactly one class."""
    single = allowed.sum(1) == 1
    return float(right[single].mean()) if single.any() else None


def latency(clf: Classifier, image: np.ndarray, runs: int, warmup: int) -> dict:
    """Invoke time per image, and the Python overhead of the full `predict` path around it."""
    tensor = clf.quantize(image[None])
    clf.invoke_raw(tensor)
    interpreter = clf.interpreter
    bare = np.empty(runs, np.int64)
    full = np.empty(runs, np.int64)
    clock = time.perf_counter_ns
    for _ in range(min(warmup, runs)):  # a short run (--runs 20) warms up no longer than it times
        interpreter.invoke()
    for i in range(runs):  # the bare interpreter loop: what the model itself costs
        t = clock()
        interpreter.invoke()
        bare[i] = clock() - t
    for i in range(runs):  # our path: quantize, set, invoke, get, dequantize
        t = clock()
        clf.predict(image)
        full[i] = clock() - t
    report = summarize(bare, 1e-3)
    us = bare / 1000.0
    counts, edges = np.histogram(
        us, bins=40, range=(float(us.min()), float(np.percentile(us, 99.5)))
    )
    report["histogram_us"] = {"edges": edges.round(2).tolist(), "counts": counts.tolist()}
    report["predict_p50"] = float(np.percentile(full, 50) / 1000.0)
    report["overhead_us"] = report["predict_p50"] - report["p50"]
    return report


def preprocess_latency(clf: Classifier, garment: np.ndarray, runs: int = 200) -> dict:
    """The model's recipe on a 640x480 frame (a camera's), through `Classifier.view`."""
    frame = garment_frame(garment)
    for _ in range(10):
        clf.view(frame)
    samples = np.empty(runs, np.int64)
    for i in range(runs):
        t = time.perf_counter_ns()
        clf.view(frame)
        samples[i] = time.perf_counter_ns() - t
    return {"frame": "640x480 BGR", **summarize(samples, 1e-3)}


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
    clf = Classifier(model, backend=opts.backend, threads=opts.threads[0], delegate=opts.delegate)
    ref = None
    if reference is not None:  # loaded and checked before the accuracy pass, not after it
        ref = Classifier(reference, backend=opts.backend, threads=opts.threads[0])
        if ref.contract.describe() != clf.contract.describe() or ref.labels != clf.labels:
            raise EdgeclfError(
                f"--reference {ref.name} sees {ref.contract.describe()}, {clf.name} sees "
                f"{clf.contract.describe()}: agreement needs two models of one input and classes"
            )
    data = photo_data(clf, opts) if opts.images else fashion_mnist_data(clf, opts)
    images = data.views
    probs, images_per_second = accuracy_pass(clf, images, progress)
    report = {
        "schema": SCHEMA,
        "model": str(clf.path),
        "model_bytes": clf.model_bytes,
        "input_dtype": clf.input.dtype.name,
        "input_shape": list(clf.input.shape[1:]),
        "recipe": clf.contract.recipe,
        "classes": list(clf.labels),
        "flip_average": bool(clf.card and clf.card.flip_average),
        "data": data.source,
        **accuracy_report(probs, data),
        "images_per_second": images_per_second,
    }
    if opts.no_garment:
        from .false_alarms import no_garment_report

        predict = lambda views: accuracy_pass(clf, views)[0]  # noqa: E731
        alarms = no_garment_report(clf, Path(opts.no_garment), probs, data.allowed, predict)
        report["no_garment"] = alarms.to_dict()
    if ref is not None:
        ref_probs, _ = accuracy_pass(ref, images)
        ref_acc = float(set_correct(ref_probs, data.allowed).mean())
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
    report["preprocess_us"] = preprocess_latency(clf, data.sample)
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


_progress_queue = None  # in a model's own process (`benchmark_apart`): where its progress goes


def _keep_queue(queue) -> None:
    global _progress_queue
    _progress_queue = queue


def _benchmark_in_child(model: Path | None, opts: BenchOptions, reference: Path | None) -> dict:
    return benchmark(model, opts, reference, progress=_progress_queue.put)


def benchmark_apart(
    model: Path | None,
    opts: BenchOptions,
    reference: Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict:
    """`benchmark` in a fresh process, so that its peak RSS is this model's alone: in one process
    the second model's peak would include the first's (`--compare`)."""
    import multiprocessing
    import queue
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    context = multiprocessing.get_context("spawn")
    done = context.Queue()
    with ProcessPoolExecutor(
        max_workers=1, mp_context=context, initializer=_keep_queue, initargs=(done,)
    ) as pool:
        future = pool.submit(_benchmark_in_child, model, opts, reference)
        while True:
            try:
                advanced = done.get(timeout=0.1)
            except queue.Empty:
                if not future.done():
                    continue
                try:
                    return future.result()  # its EdgeclfError, if any, is raised here
                except BrokenProcessPool:
                    name = model.name if model else "the bundled model"
                    raise EdgeclfError(
                        f"{name}: the benchmark's process died (out of memory, or the runtime "
                        "crashed on this model)"
                    ) from None
            if progress:
                progress(advanced)


def run(
    paths: list[Path],
    opts: BenchOptions,
    compare: bool = False,
    reference: Path | None = None,
    json_path: Path | None = None,
    plot: Path | None = None,
) -> list[dict]:
    """The whole command: benchmark each model with a progress bar, print, write JSON and PNG."""
    import json

    from rich.progress import Progress

    from ..atomic import check_writable_file, write_text
    from ..console import console
    from . import report as bench_report

    if compare and len(paths) < 2:
        raise EdgeclfError("--compare needs at least two models")
    if not compare and len(paths) > 1:
        raise EdgeclfError("several models given: add --compare to benchmark them side by side")
    for path, option in ((json_path, "--json"), (plot, "--plot")):
        if path:
            check_writable_file(path, option, inputs=[p for p in paths if p])
    reports = []
    with Progress(transient=True, console=console) as progress:
        for path in paths or [None]:
            name = path.name if path else "bundled model"
            task = progress.add_task(f"accuracy pass: {name}", total=opts.limit or None)
            step = lambda n, t=task: progress.advance(t, n)  # noqa: E731
            measure = benchmark_apart if compare else benchmark
            reports.append(measure(path, opts, reference, progress=step))
    if compare:
        bench_report.print_comparison(reports)
    else:
        bench_report.print_report(reports[0])
    if json_path:
        payload = {"schema": SCHEMA, "models": reports} if compare else reports[0]
        write_text(json_path, json.dumps(payload, indent=2) + "\n")
    if plot:
        bench_report.plot(reports[0], plot)
    return reports
