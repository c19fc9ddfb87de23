"""The `edgeclf` command line. Each command imports its stage lazily, so `classify` starts fast
and the edge commands never touch TensorFlow."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from .errors import EdgeclfError

app = typer.Typer(
    name="edgeclf",
    help="Garment classifier from desktop training to int8 TFLite on a Raspberry Pi or laptop.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print one red line on stderr and return the Exit to raise."""
    red, reset = ("\033[31m", "\033[0m") if sys.stderr.isatty() else ("", "")
    print(f"{red}error: {message}{reset}", file=sys.stderr)
    return typer.Exit(code)


def user_errors(func: Callable) -> Callable:
    """Turn the project's errors and Ctrl-C into one line and an exit code, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except EdgeclfError as exc:
            raise fail(str(exc), exc.exit_code) from None
        except KeyboardInterrupt:
            raise fail("interrupted", 130) from None

    return wrapper


def version_callback(value: bool) -> None:
    if value:
        from . import __version__

        print(f"edgeclf {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=version_callback, is_eager=True, help="Show the version."
        ),
    ] = False,
) -> None:
    """Garment classifier from desktop training to int8 TFLite on a Raspberry Pi or laptop."""


def require(module: str, extra: str) -> None:
    """Fail with the extra to install when a heavy optional dependency is missing."""
    import importlib

    from .quiet import captured_fds

    try:
        with captured_fds():  # TensorFlow logs its CPU features and oneDNN notes on import
            importlib.import_module(module)
    except ImportError:
        raise EdgeclfError(
            f"{module} is not installed; install the '{extra}' extra: pip install 'edgeclf[{extra}]'"
        ) from None


DataDir = Annotated[
    Path | None,
    typer.Option(
        help="Folder with the Fashion-MNIST .gz files (default: $EDGECLF_DATA_DIR, Keras cache)."
    ),
]


@app.command()
@user_errors
def train(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Output folder for the model and reports.")
    ] = Path("runs/small"),
    arch: Annotated[
        str, typer.Option(help="Architecture: tiny, small (default), small-gap, accurate.")
    ] = "small",
    epochs: Annotated[int, typer.Option(min=1, help="Training epochs.")] = 80,
    batch_size: Annotated[int, typer.Option(min=1, help="Batch size.")] = 128,
    seed: Annotated[
        int, typer.Option(help="Random seed (runs are deterministic on one machine).")
    ] = 0,
    limit: Annotated[
        int | None, typer.Option(min=20, help="Train on a class-balanced subset.")
    ] = None,
    erase_prob: Annotated[
        float,
        typer.Option(
            min=0.0, max=1.0, help="Share of training images given a random erased patch."
        ),
    ] = 0.25,
    learning_rate: Annotated[float, typer.Option(min=0.0, help="Peak AdamW learning rate.")] = 3e-3,
    bf16: Annotated[
        bool,
        typer.Option(
            "--bf16",
            help="Mixed bfloat16 compute (faster on CPUs with AMX or AVX512-BF16, and on GPUs); "
            "the saved model is float32.",
        ),
    ] = False,
    teacher: Annotated[
        Path | None,
        typer.Option(
            help="Distil from this trained .keras model (same --seed, so same val split)."
        ),
    ] = None,
    distill_weight: Annotated[
        float,
        typer.Option(min=0.0, max=1.0, help="Share of each target that comes from the teacher."),
    ] = 0.7,
    data_dir: DataDir = None,
    resume: Annotated[
        Path | None, typer.Option(help="Continue an interrupted run from its folder.")
    ] = None,
) -> None:
    """Train a Keras CNN on Fashion-MNIST (needs the 'train' extra)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    require("keras", "train")
    from ..train.architectures import ARCHITECTURES
    from ..train.report import print_summary
    from ..train.trainer import TrainConfig
    from ..train.trainer import train as run_training

    if resume:
        cfg, out = TrainConfig.load(resume), resume
    else:
        if arch not in ARCHITECTURES:
            raise EdgeclfError(f"unknown --arch {arch!r}; choose from {', '.join(ARCHITECTURES)}")
        cfg = TrainConfig(
            arch=arch,
            epochs=epochs,
            batch_size=batch_size,
            seed=seed,
            limit=limit,
            erase_prob=erase_prob,
            learning_rate=learning_rate,
            bf16=bf16,
            teacher=str(teacher) if teacher else None,
            distill_weight=distill_weight,
            data_dir=str(data_dir) if data_dir else None,
        )
    try:
        metrics = run_training(cfg, out, resume=bool(resume))
    except KeyboardInterrupt:
        raise fail(f"interrupted; continue with: edgeclf train --resume {out}", 130) from None
    print_summary(metrics, out)


@app.command()
@user_errors
def convert(
    model: Annotated[Path, typer.Argument(help="Trained Keras model (.keras).")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Output .tflite path.")] = None,
    int8: Annotated[bool, typer.Option("--int8", help="Full-integer int8 quantization.")] = False,
    fp16: Annotated[bool, typer.Option("--fp16", help="float16 weights.")] = False,
    dynamic: Annotated[
        bool, typer.Option("--dynamic", help="Dynamic-range (int8 weights).")
    ] = False,
    io: Annotated[str, typer.Option(help="int8 model I/O type: int8, uint8 or float.")] = "int8",
    calib_samples: Annotated[
        int, typer.Option(min=10, help="Class-balanced training images for calibration.")
    ] = 500,
    seed: Annotated[int, typer.Option(help="Seed for the calibration sample.")] = 0,
    max_drop: Annotated[
        float, typer.Option(help="Fail when TFLite accuracy is this many points below float.")
    ] = 0.5,
    flip_average: Annotated[
        bool,
        typer.Option(
            "--flip-average",
            help="Average each prediction with the mirrored image's, inside the model: "
            "twice the compute, a few KB more, +0.2-0.4 points on Fashion-MNIST.",
        ),
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Convert a Keras model to TFLite (float32 by default, or --int8/--fp16/--dynamic), verified."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    require("tensorflow", "train")
    from ..convert.converter import ConvertOptions
    from ..convert.converter import convert as run_convert
    from ..convert.report import print_report

    modes = [name for name, on in (("int8", int8), ("fp16", fp16), ("dynamic", dynamic)) if on]
    if len(modes) > 1:
        raise EdgeclfError("choose one of --int8, --fp16, --dynamic")
    mode = modes[0] if modes else "float"
    out = out or model.with_name(f"{model.stem}_{mode}.tflite")
    opts = ConvertOptions(
        mode=mode,
        io=io,
        calib_samples=calib_samples,
        seed=seed,
        data_dir=str(data_dir) if data_dir else None,
        max_drop=max_drop,
        flip_average=flip_average,
    )
    print_report(run_convert(model, out, opts), out)


ModelOption = Annotated[
    Path | None,
    typer.Option("--model", "-m", help="TFLite model (default: the bundled int8 model)."),
]
BackendOption = Annotated[
    str | None,
    typer.Option(help="Interpreter: litert, tflite-runtime or tensorflow (default: first found)."),
]
ThreadsOption = Annotated[int | None, typer.Option(min=1, help="Interpreter threads.")]
DelegateOption = Annotated[
    str | None, typer.Option(help="External delegate library, e.g. libedgetpu.so.1.")
]


def load_classifier(model, backend, threads, delegate):
    from .classifier import Classifier

    return Classifier(model, backend=backend, threads=threads, delegate=delegate)


@app.command()
@user_errors
def classify(
    images: Annotated[list[str], typer.Argument(help="Image files, folders (recursive) or globs.")],
    model: ModelOption = None,
    top_k: Annotated[
        int, typer.Option("--top-k", "-k", min=1, help="Classes to report per image.")
    ] = 3,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    raw: Annotated[
        bool, typer.Option(help="Skip the photo recipe (input is already 28x28-like).")
    ] = False,
    save_input: Annotated[
        Path | None, typer.Option(help="Write each 28x28 model's-eye view to this folder.")
    ] = None,
    expect_dirs: Annotated[
        bool, typer.Option(help="Catalog audit: each image's folder name is its expected class.")
    ] = False,
    expect: Annotated[
        Path | None, typer.Option(help="Catalog audit: CSV of path,label rows.")
    ] = None,
    report: Annotated[
        Path | None, typer.Option(help="Write the mismatch report to this CSV.")
    ] = None,
    backend: BackendOption = None,
    threads: ThreadsOption = None,
    delegate: DelegateOption = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Report model and backend.")
    ] = False,
) -> None:
    """Classify photos of garments (any size, any background) with the int8 model."""
    from .classify import ClassifyOptions, class_counts, print_json_summary, run_batch
    from .inputs import expand_inputs

    if report and not (expect or expect_dirs):
        raise EdgeclfError("--report needs --expect CSV or --expect-dirs")
    clf = load_classifier(model, backend, threads, delegate)
    if verbose:
        info = clf.describe()
        print(
            f"model {info['model']} ({info['model_bytes']:,} bytes, input {info['input']['dtype']}), "
            f"backend {info['backend']} {info['backend_version']}",
            file=sys.stderr,
        )
    items = expand_inputs(images)
    audit = None
    if expect or expect_dirs:  # csv and friends are imported only for audits
        from .catalog import Audit

        audit = Audit.from_csv(expect) if expect else Audit.from_dirs(items)
    results = run_batch(
        clf, items, ClassifyOptions(top_k=top_k, raw=raw, save_input=save_input), as_json
    )
    errors = sum("error" in r for r in results)
    if audit and report:
        audit.write_report(results, report)
    if as_json:
        print_json_summary(results)
    else:
        from . import tables

        tables.results_table(results)
        tables.counts_table(class_counts(results), errors)
        if audit:
            tables.mismatch_table(audit.mismatches(results), audit.checked(results))
    if errors:
        raise typer.Exit(1)


def parse_threads(text: str) -> tuple[int, ...]:
    try:
        threads = tuple(int(t) for t in text.split(",") if t.strip())
    except ValueError:
        threads = ()
    if not threads or min(threads) < 1:
        raise EdgeclfError(f"--threads takes counts like 1 or 1,2,4, not {text!r}")
    return threads


@app.command()
@user_errors
def bench(
    models: Annotated[
        list[Path] | None, typer.Argument(help="Model(s) to benchmark (default: the bundled one).")
    ] = None,
    compare: Annotated[
        bool,
        typer.Option("--compare", help="Benchmark every MODEL and print one side-by-side table."),
    ] = False,
    model: ModelOption = None,
    reference: Annotated[
        Path | None, typer.Option(help="Another .tflite to measure top-1 agreement against.")
    ] = None,
    data_dir: DataDir = None,
    limit: Annotated[
        int | None, typer.Option(min=10, help="Class-balanced subset of the test set.")
    ] = None,
    threads: Annotated[str, typer.Option(help="Thread counts to time, e.g. 1,2,4.")] = "1",
    runs: Annotated[int, typer.Option(min=10, help="Timed invokes per thread count.")] = 2000,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write the report as JSON.")
    ] = None,
    plot: Annotated[
        Path | None, typer.Option(help="Write confusion matrix + latency chart PNG.")
    ] = None,
    backend: BackendOption = None,
    delegate: DelegateOption = None,
) -> None:
    """Measure accuracy, latency and footprint on this device (no TensorFlow)."""
    import json

    from . import bench as bench_mod
    from . import bench_report
    from .atomic import write_text

    paths = list(models or []) + ([model] if model else [])
    if compare and len(paths) < 2:
        raise EdgeclfError("--compare needs at least two models")
    if not compare and len(paths) > 1:
        raise EdgeclfError("several models given: add --compare to benchmark them side by side")
    opts = bench_mod.BenchOptions(
        data_dir=str(data_dir) if data_dir else None,
        limit=limit,
        threads=parse_threads(threads),
        runs=runs,
        backend=backend,
        delegate=delegate,
    )
    reports = []
    from rich.progress import Progress

    with Progress(transient=True, console=bench_report.console) as progress:
        for path in paths or [None]:
            name = path.name if path else "bundled model"
            task = progress.add_task(f"accuracy pass: {name}", total=limit or 10000)
            reports.append(
                bench_mod.benchmark(
                    path, opts, reference, progress=lambda n, t=task: progress.advance(t, n)
                )
            )
    if compare:
        bench_report.print_comparison(reports)
    else:
        bench_report.print_report(reports[0])
    if json_path:
        payload = {"schema": bench_mod.SCHEMA, "models": reports} if compare else reports[0]
        write_text(json_path, json.dumps(payload, indent=2) + "\n")
    if plot:
        bench_report.plot(reports[0], plot)


WidthOption = Annotated[int | None, typer.Option(min=1, help="Requested frame width.")]
HeightOption = Annotated[int | None, typer.Option(min=1, help="Requested frame height.")]
RoiOption = Annotated[
    str | None, typer.Option(help="Region to classify, x,y,w,h (default: centred square).")
]
SmoothOption = Annotated[
    float, typer.Option(min=0.0, max=0.99, help="EMA weight of past frames (0 = off).")
]
ThresholdOption = Annotated[
    float, typer.Option(min=0.0, max=1.0, help="Below this confidence, say 'uncertain'.")
]


@app.command()
@user_errors
def camera(
    source: Annotated[
        str,
        typer.Option(
            help="Camera index, /dev/videoN, video file, rtsp/http URL, GStreamer pipeline, or picamera2."
        ),
    ] = "0",
    model: ModelOption = None,
    width: WidthOption = None,
    height: HeightOption = None,
    fps: Annotated[float | None, typer.Option(min=1, help="Requested frame rate.")] = None,
    roi: RoiOption = None,
    smooth: SmoothOption = 0.5,
    threshold: ThresholdOption = 0.5,
    headless: Annotated[
        bool, typer.Option(help="No window; print one JSON line per classified frame.")
    ] = False,
    on_change: Annotated[
        bool, typer.Option(help="Print a JSON line only when the label changes.")
    ] = False,
    record: Annotated[Path | None, typer.Option(help="Write the annotated video (.mp4).")] = None,
    max_frames: Annotated[
        int | None, typer.Option(min=1, help="Stop after this many classified frames.")
    ] = None,
    duration: Annotated[
        float | None, typer.Option(min=0.1, help="Stop after this many seconds.")
    ] = None,
    backend: BackendOption = None,
    threads: ThreadsOption = None,
    delegate: DelegateOption = None,
) -> None:
    """Classify garments live from a camera or video (keys: q quit, s snapshot, space pause)."""
    from .camera import CameraOptions, LiveClassifier, parse_roi, print_summary

    opts = CameraOptions(
        source=source,
        width=width,
        height=height,
        fps=fps,
        roi=parse_roi(roi) if roi else None,
        smooth=smooth,
        threshold=threshold,
        headless=headless,
        on_change=on_change,
        record=record,
        max_frames=max_frames,
        duration=duration,
    )
    clf = load_classifier(model, backend, threads, delegate)
    summary = LiveClassifier(clf, opts, emit=lambda line: print(line, flush=True)).run()
    print_summary(summary)
    if summary.get("error"):
        raise fail(summary["error"], 1)


LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@app.command()
@user_errors
def serve(
    source: Annotated[
        str, typer.Option(help="Camera source as for `camera`, or 'none' for the upload API only.")
    ] = "0",
    model: ModelOption = None,
    host: Annotated[
        str, typer.Option(help="Address to listen on (loopback unless you say otherwise).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port.")] = 8000,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="EDGECLF_TOKEN",
            help="Require this bearer token (or ?token=) on every route but /healthz.",
        ),
    ] = None,
    max_upload_mb: Annotated[float, typer.Option(min=0.1, help="Largest accepted upload.")] = 10.0,
    width: WidthOption = None,
    height: HeightOption = None,
    roi: RoiOption = None,
    smooth: SmoothOption = 0.5,
    threshold: ThresholdOption = 0.5,
    backend: BackendOption = None,
    threads: ThreadsOption = None,
) -> None:
    """Serve the live annotated view and a classification API to a browser (needs the 'serve' extra)."""
    require("fastapi", "serve")
    require("uvicorn", "serve")
    import uvicorn

    from .camera import CameraOptions, parse_roi
    from .capture import open_source
    from .live import LiveService
    from .server import create_app

    clf = load_classifier(model, backend, threads, None)
    live = None
    if source != "none":
        opts = CameraOptions(
            source=source,
            width=width,
            height=height,
            roi=parse_roi(roi) if roi else None,
            smooth=smooth,
            threshold=threshold,
            headless=True,
            loop=True,
            realtime=True,
        )
        open_source(source, width, height).release()  # fail now, clearly, if the camera is missing
        live = LiveService(clf, opts)
    if host not in LOOPBACK and not token:
        print(
            f"warning: listening on {host} without --token: anyone on the network can use it",
            file=sys.stderr,
        )
    app_ = create_app(clf, live, token=token, max_upload=int(max_upload_mb * 2**20))
    print(
        f"edgeclf serve: http://{host}:{port}/" + (f"?token={token}" if token else ""),
        file=sys.stderr,
    )
    uvicorn.run(app_, host=host, port=port, log_level="warning")


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
