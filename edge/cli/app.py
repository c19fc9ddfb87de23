"""The `edgeclf` command line: a table of commands. Each declares its options and hands them to its
stage, imported lazily, so `classify` starts fast and the edge commands never touch TensorFlow."""

import sys
from pathlib import Path
from typing import Annotated

import typer

from ..errors import EdgeclfError
from .options import (
    COLLECT,
    FASHION_ONLY,
    MODEL,
    OUTPUT,
    SOURCE,
    TRAINING,
    ArchOption,
    BackendOption,
    BackgroundClassOption,
    BaseModelOption,
    Bf16Option,
    CalibPhotosOption,
    CollectClassesOption,
    CollectOption,
    DataDir,
    DelegateOption,
    FleetArgs,
    FleetKeyFileOption,
    FlipAverageOption,
    ImagesOption,
    IoType,
    KeepClassesOption,
    LabelHeadOption,
    LabelOption,
    LiveArgs,
    ModelOption,
    MqttCaOption,
    PerClassOption,
    PhotosOption,
    ServeClassesOption,
    ServeCollectOption,
    Split,
    SplitOption,
    ThreadsOption,
    ThreadSweep,
    TrainClassesOption,
    VersionOption,
    in_panel,
    with_fleet_options,
    with_live_options,
)
from .support import (
    fail,
    given_options,
    only_the_command_run,
    progress_bar,
    require,
    settings_for,
    user_errors,
)

app = typer.Typer(
    name="edgeclf",
    help="Garment classifier from desktop training to int8 TFLite on a Raspberry Pi or laptop.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def main_options(version: VersionOption = False) -> None:
    """Garment classifier from desktop training to int8 TFLite on a Raspberry Pi or laptop."""


@app.command(
    epilog="Examples:\n\n  edgeclf train --photos ../shared/data/clothing-photos --arch photo-medium --size 64 --epochs 40\n\n  edgeclf train --photos shop/ --classes-from-folders --epochs 10 --out runs/shop"
)
@user_errors
def train(
    ctx: typer.Context,
    photos: in_panel(PhotosOption, SOURCE) = None,
    classes: in_panel(TrainClassesOption, SOURCE) = None,
    classes_from_folders: Annotated[
        bool,
        typer.Option(
            "--classes-from-folders",
            help="Teach your own classes: the folder names of --photos DIR/<class>/.",
            rich_help_panel=SOURCE,
        ),
    ] = False,
    background_class: in_panel(BackgroundClassOption, SOURCE) = None,
    per_class: in_panel(PerClassOption, SOURCE) = None,
    data_dir: in_panel(DataDir, SOURCE) = None,
    arch: ArchOption = None,
    size: Annotated[
        int,
        typer.Option(
            min=16,
            max=256,
            help="Photo model input size in pixels (square).",
            rich_help_panel=MODEL,
        ),
    ] = 64,
    base: in_panel(BaseModelOption, MODEL) = None,
    label_head: in_panel(LabelHeadOption, MODEL) = None,
    render_per_class: Annotated[
        int,
        typer.Option(
            min=0, help="Fashion-MNIST images per class rendered as photos.", rich_help_panel=MODEL
        ),
    ] = 700,
    epochs: Annotated[
        int, typer.Option(min=1, help="Training epochs.", rich_help_panel=TRAINING)
    ] = 80,
    fine_tune_epochs: Annotated[
        int,
        typer.Option(
            min=0,
            help="Own classes: epochs with the base unfrozen afterwards.",
            rich_help_panel=TRAINING,
        ),
    ] = 0,
    batch_size: Annotated[
        int, typer.Option(min=1, help="Batch size.", rich_help_panel=TRAINING)
    ] = 128,
    learning_rate: Annotated[
        float, typer.Option(min=0.0, help="Peak AdamW learning rate.", rich_help_panel=TRAINING)
    ] = 3e-3,
    seed: Annotated[
        int,
        typer.Option(help="Random seed (deterministic on one machine).", rich_help_panel=TRAINING),
    ] = 0,
    bf16: in_panel(Bf16Option, TRAINING) = False,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Output folder for the model and reports.",
            show_default="runs/<task>, numbered: runs/photo, runs/photo2, ...",
            rich_help_panel=OUTPUT,
        ),
    ] = None,
    resume: Annotated[
        Path | None,
        typer.Option(help="Continue an interrupted run from its folder.", rich_help_panel=OUTPUT),
    ] = None,
    overwrite: Annotated[
        bool,
        typer.Option(
            "--overwrite", help="Start afresh in a non-empty --out folder.", rich_help_panel=OUTPUT
        ),
    ] = False,
    limit: Annotated[
        int | None,
        typer.Option(
            min=20, help="Train on a class-balanced subset.", rich_help_panel=FASHION_ONLY
        ),
    ] = None,
    erase_prob: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Share of images given an erased patch.",
            rich_help_panel=FASHION_ONLY,
        ),
    ] = 0.25,
    teacher: Annotated[
        Path | None,
        typer.Option(
            help="Distil from this trained .keras model (same --seed: same val split).",
            rich_help_panel=FASHION_ONLY,
        ),
    ] = None,
    distill_weight: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Share of each target that comes from the teacher.",
            rich_help_panel=FASHION_ONLY,
        ),
    ] = 0.7,
) -> None:
    """Train a Keras CNN on Fashion-MNIST, or a colour photo model with --photos ('train' extra)."""
    options = dict(locals())
    given = given_options(ctx, options)
    require("keras", "train")
    from ...train.configs import config_for_command, flag, load_config
    from ...train.report import print_summary
    from ...train.run_folder import next_run_folder
    from ...train.trainer import train as run_training

    if resume:
        ignored = sorted(given - {"resume"})
        if ignored:
            raise EdgeclfError(
                f"--resume continues the run as it was configured; drop {', '.join(flag(n) for n in ignored)} "
                "(or start a new run with them)"
            )
        cfg, out = load_config(resume), resume
    else:
        cfg = config_for_command(options, given)
        out = out or next_run_folder(cfg.run_name)
    try:
        metrics = run_training(cfg, out, resume=bool(resume), overwrite=overwrite)
    except KeyboardInterrupt:
        raise fail(f"interrupted; continue with: edgeclf train --resume {out}", 130) from None
    print_summary(metrics, out)


@app.command(
    epilog="Examples:\n\n  edgeclf convert runs/photo/model.keras --int8 -o photo_int8.tflite"
)
@user_errors
def convert(
    model: Annotated[Path, typer.Argument(help="Trained Keras model (.keras).")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Output .tflite path.")] = None,
    int8: Annotated[bool, typer.Option("--int8", help="Full-integer int8 quantization.")] = False,
    fp16: Annotated[bool, typer.Option("--fp16", help="float16 weights.")] = False,
    dynamic: Annotated[
        bool, typer.Option("--dynamic", help="Dynamic-range (int8 weights).")
    ] = False,
    io: Annotated[IoType, typer.Option(help="int8 model input and output type.")] = IoType.int8,
    calib_samples: Annotated[
        int | None,
        typer.Option(
            min=10, help="Images to calibrate int8 on \\[default: photo 2000, 28x28 500]."
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed for the calibration sample.")] = 0,
    max_drop: Annotated[
        float, typer.Option(help="Fail when TFLite accuracy is this many points below float.")
    ] = 0.5,
    flip_average: FlipAverageOption = False,
    photos: CalibPhotosOption = None,
    data_dir: DataDir = None,
) -> None:
    """Convert a Keras model to TFLite (float32 by default, or --int8/--fp16/--dynamic), verified."""
    options = dict(locals())
    from ...convert.converter import ConvertOptions, checked_output, run

    opts = ConvertOptions.for_command(int8, fp16, dynamic, **settings_for(ConvertOptions, options))
    out = checked_output(model, out, opts)  # before TensorFlow loads: a refusal in a second
    require("tensorflow", "train")
    run(model, out, opts)


@app.command(
    epilog="Examples:\n\n  edgeclf classify photos/ --json\n\n  edgeclf classify catalog/ --expect-dirs --report audit.csv"
)
@user_errors
def classify(
    images: Annotated[list[str], typer.Argument(help="Image files, folders (recursive) or globs.")],
    model: ModelOption = None,
    top_k: Annotated[
        int, typer.Option("--top-k", "-k", min=1, help="Classes to report per image.")
    ] = 3,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    raw: Annotated[
        bool,
        typer.Option(help="Skip the search for the garment (input is already a tight crop)."),
    ] = False,
    save_input: Annotated[
        Path | None, typer.Option(help="Write each model's-eye view (PNG) to this folder.")
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
    from ..classify.run import ClassifyOptions, run
    from ..runtime.classifier import Classifier

    clf = Classifier(model, backend, threads, delegate)
    if verbose:
        typer.echo(clf.summary_line(), err=True)
    opts = ClassifyOptions(top_k, raw, save_input, as_json, expect, expect_dirs, report)
    if run(clf, images, opts):
        raise typer.Exit(1)


@app.command(
    epilog="Examples:\n\n  edgeclf bench --images tests/fixtures/photos --runs 500\n\n  edgeclf bench --compare models/photo_int8.tflite shop.tflite --threads 1,2"
)
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
    images: ImagesOption = None,
    split: SplitOption = Split.all,
    no_garment: Annotated[
        Path | None,
        typer.Option(
            help="Folder of frames with no garment: how often each threshold (and a background "
            "class) still names one.",
        ),
    ] = None,
    threads: ThreadSweep = "1",  # parsed by typer into ThreadCounts
    runs: Annotated[int, typer.Option(min=10, help="Timed invokes per thread count.")] = 2000,
    backend: BackendOption = None,
    delegate: DelegateOption = None,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write the report as JSON.")
    ] = None,
    plot: Annotated[
        Path | None, typer.Option(help="Write confusion matrix + latency chart PNG.")
    ] = None,
) -> None:
    """Measure accuracy, latency and footprint on this device (no TensorFlow)."""
    options = dict(locals())
    from ..bench.options import BenchOptions
    from ..bench.run import run as run_bench

    opts = BenchOptions.for_command(**settings_for(BenchOptions, options))
    paths = list(models or []) + ([model] if model else [])
    run_bench(paths, opts, compare, reference, json_path, plot)


@app.command(
    epilog="Examples:\n\n  edgeclf teach shop/ -o shop.tflite\n\n  edgeclf teach collected/ -o thirteen.tflite --keep-classes"
)
@user_errors
def teach(
    folder: Annotated[
        Path,
        typer.Argument(
            help="The photos: FOLDER/<class>/*.jpg as camera --collect saves them (or labels.csv "
            "+ images/, with --classes)."
        ),
    ],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="The new model (.tflite); its card goes beside it.")
    ],
    base: BaseModelOption = None,
    classes: Annotated[
        str | None,
        typer.Option(help="With a labels.csv folder: the labels to learn, comma-separated."),
    ] = None,
    background_class: BackgroundClassOption = None,
    val_fraction: Annotated[
        float,
        typer.Option(min=0.05, max=0.5, help="Share of each class held out for validation."),
    ] = 0.15,
    seed: Annotated[int, typer.Option(help="Seed of the validation split.")] = 0,
    per_class: PerClassOption = None,
    keep_classes: KeepClassesOption = False,
    backend: BackendOption = None,
    threads: ThreadsOption = None,
) -> None:
    """Learn classes of your own on this device in seconds, without TensorFlow: a new head on the
    photo model's features, written as one int8 model with its card."""
    from ..teach.report import print_result
    from ..teach.run import TeachOptions, save
    from ..teach.run import teach as run_teach

    opts = TeachOptions(
        folder=folder,
        out=out,
        base=base,
        classes=classes,
        background_class=background_class,
        val_fraction=val_fraction,
        seed=seed,
        backend=backend,
        threads=threads,
        per_class=per_class,
        keep_classes=keep_classes,
    )
    with progress_bar("reading photos") as advance:
        taught = run_teach(opts, lambda stage, done, total: advance(done, total, stage))
    print_result(taught.result, save(taught, out))


@app.command(
    epilog="Examples:\n\n  edgeclf camera --collect shop/ --classes jeans,chinos\n\n  edgeclf camera --source clip.mp4 --headless --on-change --mqtt mqtt://broker.lan --device-id cam1"
)
@user_errors
@with_live_options
@with_fleet_options
def camera(
    live: LiveArgs,
    fleet: FleetArgs,
    headless: Annotated[
        bool,
        typer.Option(
            help="No window; print one JSON line per classified frame.", rich_help_panel=OUTPUT
        ),
    ] = False,
    on_change: Annotated[
        bool,
        typer.Option(help="Print a JSON line only when the label changes.", rich_help_panel=OUTPUT),
    ] = False,
    record: Annotated[
        Path | None,
        typer.Option(help="Write the annotated video (.mp4).", rich_help_panel=OUTPUT),
    ] = None,
    max_frames: Annotated[
        int | None,
        typer.Option(min=1, help="Stop after this many classified frames.", rich_help_panel=OUTPUT),
    ] = None,
    duration: Annotated[
        float | None,
        typer.Option(min=0.1, help="Stop after this many seconds.", rich_help_panel=OUTPUT),
    ] = None,
    collect: in_panel(CollectOption, COLLECT) = None,
    classes: in_panel(CollectClassesOption, COLLECT) = None,
    label: in_panel(LabelOption, COLLECT) = None,
    every: Annotated[
        int,
        typer.Option(
            min=1, help="With --label: save every Nth classified frame.", rich_help_panel=COLLECT
        ),
    ] = 5,
    keep_classes: in_panel(KeepClassesOption, COLLECT) = False,
    loop: Annotated[
        bool,
        typer.Option(
            help="A video file: start again at its end, like a camera that runs on.",
            rich_help_panel=SOURCE,
        ),
    ] = False,
    realtime: Annotated[
        bool,
        typer.Option(
            help="A video file: play at its own frame rate, dropping frames like a camera.",
            rich_help_panel=SOURCE,
        ),
    ] = False,
) -> None:
    """Classify garments live from a camera or video (keys: q quit, s snapshot, space pause;
    with --collect, 1-9 save the region under that class and l learns them into DIR.tflite)."""
    from ..live.camera import CameraOptions, print_summary, run_camera
    from ..live.collect import CollectOptions

    gather = CollectOptions.for_command(collect, classes, label, every, keep_classes)
    opts = CameraOptions(
        headless=headless, on_change=on_change, record=record, collect=gather,
        fleet=fleet.options(),
    )  # fmt: skip
    live_opts = live.options(max_frames=max_frames, duration=duration, loop=loop, realtime=realtime)
    summary = run_camera(live.classifier(), live_opts, opts, emit=lambda s: print(s, flush=True))
    print_summary(summary)
    if summary.error:
        raise fail(summary.error, 1)


@app.command(
    epilog="Examples:\n\n  edgeclf serve --source 0 --collect shop/ --classes jeans,chinos\n\n  edgeclf serve --source picamera2 --host 0.0.0.0"
)
@user_errors
@with_live_options
@with_fleet_options
def serve(
    live: LiveArgs,
    fleet: FleetArgs,
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
    no_token: Annotated[
        bool,
        typer.Option(
            "--no-token",
            help="Off loopback, serve without the token otherwise made up (anyone on the "
            "network can then use it).",
        ),
    ] = False,
    max_upload_mb: Annotated[float, typer.Option(min=0.1, help="Largest accepted upload.")] = 10.0,
    collect: ServeCollectOption = None,
    classes: ServeClassesOption = None,
    keep_classes: KeepClassesOption = False,
) -> None:
    """Serve the live view and a classification API to a browser ('serve' extra).

    --source none serves the upload API and page only. With --collect DIR --classes a,b the page
    saves the camera's region under DIR/<class>/ (pick a class, press or hold capture). Video
    files always play in real time and loop. Off loopback without --token, a token is made up
    and the URL that carries it is printed, with a QR code for a phone."""
    require("fastapi", "serve")
    require("uvicorn", "serve")
    from ..live.collect import CollectOptions
    from ..serve.app import serve as run_server

    gather = CollectOptions.for_command(collect, classes, keep_classes=keep_classes)
    if gather and live.source == "none":
        raise EdgeclfError("--collect needs a camera: --source none has no frames to save")
    live_opts = live.options(loop=True, realtime=True) if live.source != "none" else None
    upload = int(max_upload_mb * 2**20)
    link = fleet.options()
    if link and live.source == "none":
        raise EdgeclfError("--mqtt needs a camera: --source none has no frames to publish")
    run_server(live.classifier(), live_opts, host, port, token, upload, gather, no_token, link)


@app.command(
    epilog="Examples:\n\n  EDGECLF_FLEET_KEY=... edgeclf publish shop.tflite --mqtt mqtt://broker.lan --to all"
)
@user_errors
def publish(
    model: Annotated[Path, typer.Argument(help="The model (.tflite, its card inside) to send.")],
    mqtt: Annotated[
        str,
        typer.Option("--mqtt", metavar="URL", help="The broker: mqtt://\\[user@]host\\[:port]."),
    ],
    to: Annotated[
        str, typer.Option("--to", help="A device id, or 'all' for every device.")
    ] = "all",
    fleet_key_file: FleetKeyFileOption = None,
    mqtt_ca: MqttCaOption = None,
) -> None:
    """Send a model to the fleet, signed with the fleet key ($EDGECLF_FLEET_KEY): devices started
    with --accept-models and the same key check it and swap it in; retained, so a device that
    starts later gets it too."""
    from ..fleet.envelope import fleet_key
    from ..fleet.publish import publish_model
    from ..fleet.topics import device_id, parse_url

    url = parse_url(mqtt)
    target = "all" if to == "all" else device_id(to)
    print(publish_model(model, url, target, fleet_key(fleet_key_file), mqtt_ca))


@app.command(
    epilog="Examples:\n\n  edgeclf watch mqtt://broker.lan\n\n  edgeclf watch mqtt://broker.lan --json --duration 60"
)
@user_errors
def watch(
    mqtt: Annotated[str, typer.Argument(metavar="URL", help="The broker: mqtt://host[:port].")],
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON line per state message, no table.")
    ] = False,
    duration: Annotated[
        float | None, typer.Option(min=0.1, help="Stop after this many seconds.")
    ] = None,
    mqtt_ca: MqttCaOption = None,
) -> None:
    """Watch every device on the broker live: online or not, garment, confidence, model, last
    seen and messages per second (Ctrl-C to stop)."""
    import contextlib

    from ..fleet.topics import parse_url
    from ..fleet.watch import print_json
    from ..fleet.watch import watch as watch_fleet

    stream = watch_fleet(parse_url(mqtt), mqtt_ca, duration)
    with contextlib.suppress(KeyboardInterrupt):
        if as_json:
            print_json(stream, lambda line: print(line, flush=True))
            return
        from rich.live import Live

        from ..console import console

        with Live(console=console, refresh_per_second=2) as live:
            for fleet, _ in stream:
                live.update(fleet.table())


def main() -> None:
    """Console-script entry point."""
    only_the_command_run(app, sys.argv)
    app()


if __name__ == "__main__":
    main()
