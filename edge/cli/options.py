"""Command-line options declared once: their types, help and parsers, and the live options that
`camera` and `serve` share (added to both by one decorator, so the two cannot drift apart)."""

import copy
import functools
import inspect
import typing
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Annotated, NamedTuple

import typer

from .. import MAX_THREADS
from ..errors import EdgeclfError
from .support import version_callback

# --help groups of the commands with many options.
SOURCE, MODEL, TRAINING, OUTPUT, COLLECT = "Source", "Model", "Training", "Output", "Collect"
FASHION_ONLY = "Fashion-MNIST models only"


def in_panel(option, panel: str):
    """The same declared option, listed under `panel` in this command's --help."""
    kind, info = typing.get_args(option)[:2]
    info = copy.copy(info)
    info.rich_help_panel = panel
    return Annotated[kind, info]


class Arch(str, Enum):
    """Model architectures `train` builds (photo ones with --photos)."""

    tiny = "tiny"
    small = "small"
    small_gap = "small-gap"
    accurate = "accurate"
    photo_medium = "photo-medium"
    photo = "photo"
    photo_wide = "photo-wide"


class Backend(str, Enum):
    """TFLite interpreters, in the order they are tried."""

    litert = "litert"
    tflite_runtime = "tflite-runtime"
    tensorflow = "tensorflow"


class Split(str, Enum):
    """Which photos of a folder `bench` scores, by the split the model's card records."""

    all = "all"
    val = "val"
    train = "train"


class IoType(str, Enum):
    """The tensor type of an int8 model's input and output."""

    int8 = "int8"
    uint8 = "uint8"
    float = "float"


class ThreadCounts(tuple):
    """`--threads 1,2,4`."""


def parse_threads(text: str) -> ThreadCounts:
    try:
        threads = ThreadCounts(int(t) for t in text.split(",") if t.strip())
    except ValueError:
        threads = ThreadCounts()
    if not threads or min(threads) < 1:
        raise typer.BadParameter(f"takes counts like 1 or 1,2,4, not {text!r}")
    if max(threads) > MAX_THREADS:
        raise typer.BadParameter(f"at most {MAX_THREADS} threads, not {max(threads)}")
    return threads


class Region(tuple):
    """`--roi x,y,w,h`."""


def parse_region(text: str) -> Region:
    from ..live.stream import parse_roi

    try:
        return Region(parse_roi(text))
    except EdgeclfError as exc:
        raise typer.BadParameter(str(exc).removeprefix("--roi ")) from None


VersionOption = Annotated[
    bool,
    typer.Option("--version", callback=version_callback, is_eager=True, help="Show the version."),
]
ModelOption = Annotated[
    Path | None,
    typer.Option(
        "--model",
        "-m",
        help="TFLite model, or a bundled tier: fast (the colour photo model, the default) or "
        "accurate (EfficientNet-Lite0); models/fashion_int8.tflite is the 28x28 one.",
    ),
]
BackendOption = Annotated[
    Backend | None, typer.Option(help="Interpreter (default: the first one installed).")
]
ThreadsOption = Annotated[
    int | None, typer.Option(min=1, max=MAX_THREADS, help="Interpreter threads.")
]
DelegateOption = Annotated[
    str | None, typer.Option(help="External delegate library, e.g. libedgetpu.so.1.")
]
DataDir = Annotated[
    Path | None,
    typer.Option(
        help="Folder with the Fashion-MNIST .gz files (default: $EDGECLF_DATA_DIR, Keras cache)."
    ),
]
ArchOption = Annotated[
    Arch | None,
    typer.Option(
        help="Default: small; with --photos photo-medium (the photo-* ones need --photos).",
        rich_help_panel=MODEL,
    ),
]
PhotosOption = Annotated[
    Path | None,
    typer.Option(
        help="Train a colour photo model on this labelled photo folder (labels.csv + images/, "
        "or <class>/*.jpg), with Fashion-MNIST rendered as photos beside it."
    ),
]
Bf16Option = Annotated[
    bool,
    typer.Option(
        "--bf16",
        help="Mixed bfloat16 compute (faster on CPUs with AMX or AVX512-BF16, and on GPUs); "
        "the saved model is float32.",
    ),
]
FlipAverageOption = Annotated[
    bool,
    typer.Option(
        "--flip-average",
        help="Average each prediction with the mirrored image's, inside the model: "
        "twice the compute, a few KB more, +0.2-0.4 points on Fashion-MNIST.",
    ),
]
CalibPhotosOption = Annotated[
    Path | None,
    typer.Option(
        help="Photo models: the labelled photos to calibrate and verify on "
        "(default: the folder training used, when it is here)."
    ),
]
ImagesOption = Annotated[
    Path | None,
    typer.Option(
        help="Score on labelled real photos instead (labels.csv + images/, or <class>/*.jpg); "
        "ambiguous labels count as right on any of their classes."
    ),
]
SplitOption = Annotated[
    Split,
    typer.Option(
        help="With --images: all, or the val/train side of the sender-disjoint split the "
        "model's card records from training."
    ),
]
BaseModelOption = Annotated[
    Path | None,
    typer.Option(
        help="Own classes: the photo model whose features to build on: a file, fast (the "
        "default) or accurate."
    ),
]
PerClassOption = Annotated[
    int | None, typer.Option(min=1, help="At most N training photos per class (learning curves).")
]
BackgroundClassOption = Annotated[
    str | None,
    typer.Option(
        help="Own classes: the class of frames with no garment (empty table, floor): the model "
        "learns to say so instead of naming a garment."
    ),
]
CollectOption = Annotated[
    Path | None,
    typer.Option(
        help="Save the region of frames as JPEGs under DIR/<class>/ (keys 1-9 in the window, or "
        "--label headless; l learns them into DIR.tflite)."
    ),
]
KeepClassesOption = Annotated[
    bool,
    typer.Option(
        help="Keep the base model's classes and add the collected ones after them (the base's "
        "photos come from the feature bank beside it)."
    ),
]
ServeCollectOption = Annotated[
    Path | None,
    typer.Option(
        help="Let the page capture the camera's region as JPEGs under DIR/<class>/ and learn "
        "them into DIR.tflite."
    ),
]
CollectClassesOption = Annotated[
    str | None,
    typer.Option(help="With --collect: the classes to collect, comma-separated (keys 1-9)."),
]
ServeClassesOption = Annotated[
    str | None,
    typer.Option(help="With --collect: the classes the page collects, comma-separated."),
]
TrainClassesOption = Annotated[
    str | None,
    typer.Option(
        help="Own classes: the labels.csv labels to learn, comma-separated (class folders: "
        "--classes-from-folders)."
    ),
]
LabelHeadOption = Annotated[
    bool | None,
    typer.Option(
        "--label-head/--no-label-head",
        help="Ten-class photo models (on by default): also learn the photo folder's own labels "
        "(Hoodie, Longsleeve, Shorts...) with a second head while training; the saved model "
        "has no such head.",
        show_default=False,
    ),
]
LabelOption = Annotated[
    str | None,
    typer.Option(help="Headless --collect: save every --every-th frame under this class."),
]
ThreadSweep = Annotated[
    ThreadCounts,
    typer.Option(parser=parse_threads, metavar="N[,N...]", help="Thread counts to time."),
]


class LiveArgs(NamedTuple):
    """The options `camera` and `serve` share, declared once: the source, the model and the
    loop. Each field's annotation is its typer option; `with_live_options` adds them all."""

    source: Annotated[
        str,
        typer.Option(
            help="Camera index, /dev/videoN, video file, rtsp/http URL, GStreamer pipeline, "
            "or picamera2.",
            rich_help_panel=SOURCE,
        ),
    ] = "0"
    model: in_panel(ModelOption, MODEL) = None
    width: Annotated[
        int | None, typer.Option(min=1, help="Requested frame width.", rich_help_panel=SOURCE)
    ] = None
    height: Annotated[
        int | None, typer.Option(min=1, help="Requested frame height.", rich_help_panel=SOURCE)
    ] = None
    fps: Annotated[
        float | None, typer.Option(min=1, help="Requested frame rate.", rich_help_panel=SOURCE)
    ] = None
    roi: Annotated[
        Region | None,
        typer.Option(
            parser=parse_region,
            metavar="X,Y,W,H",
            help="Region to classify (default: centred square).",
            rich_help_panel=SOURCE,
        ),
    ] = None
    smooth: Annotated[
        float,
        typer.Option(
            min=0.0, max=0.99, help="EMA weight of past frames (0 = off).", rich_help_panel=MODEL
        ),
    ] = 0.5
    threshold: Annotated[
        float,
        typer.Option(
            min=0.0, max=1.0, help="Below this confidence, say 'uncertain'.", rich_help_panel=MODEL
        ),
    ] = 0.5
    backend: in_panel(BackendOption, MODEL) = None
    threads: in_panel(ThreadsOption, MODEL) = None
    delegate: in_panel(DelegateOption, MODEL) = None

    def classifier(self):
        from ..runtime.classifier import Classifier

        return Classifier(self.model, self.backend, self.threads, self.delegate)

    def options(self, **extra):
        """The live loop's options: these fields where it has them, plus `extra`."""
        from dataclasses import fields

        from ..live.stream import LiveOptions

        shared = {
            f.name: getattr(self, f.name) for f in fields(LiveOptions) if f.name in self._fields
        }
        shared["roi"] = tuple(self.roi) if self.roi else None
        return LiveOptions(**shared, **extra)


def packed_options(args_type: type, name: str, first: bool) -> Callable[[Callable], Callable]:
    """A decorator giving a command the options `args_type` (a NamedTuple whose annotations are
    typer options) declares once; the command receives them packed as `name`. `first`: listed
    before the command's own in --help, else after them."""

    def decorate(func: Callable) -> Callable:
        signature = inspect.signature(func, eval_str=True)
        own = [
            p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
            for p in signature.parameters.values()
            if p.name != name
        ]
        kinds = args_type.__annotations__  # objects, not strings: no future import here
        shared = [
            inspect.Parameter(
                field, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=kinds[field]
            )
            for field, default in args_type._field_defaults.items()
        ]

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            packed = args_type(**{field: kwargs.pop(field) for field in args_type._fields})
            return func(*args, **{name: packed}, **kwargs)

        parameters = [*shared, *own] if first else [*own, *shared]
        wrapper.__signature__ = signature.replace(parameters=parameters)
        return wrapper

    return decorate


# The shared options list first (--help: Source, Model, then the command's own panels).
with_live_options = packed_options(LiveArgs, "live", first=True)


FLEET = "Fleet (MQTT)"
MqttOption = Annotated[
    str | None,
    typer.Option(
        "--mqtt",
        metavar="URL",
        help="Publish to this broker: mqtt://\\[user@]host\\[:port] or mqtts://... (password in "
        "$EDGECLF_MQTT_PASSWORD).",
        rich_help_panel=FLEET,
    ),
]
MqttCaOption = Annotated[
    Path | None,
    typer.Option("--mqtt-ca", help="CA certificate for mqtts://.", rich_help_panel=FLEET),
]
DeviceIdOption = Annotated[
    str | None,
    typer.Option(
        "--device-id",
        help="This device's name on the broker \\[default: the host name].",
        rich_help_panel=FLEET,
    ),
]
MqttIntervalOption = Annotated[
    float,
    typer.Option(min=1.0, help="Seconds between heartbeat states.", rich_help_panel=FLEET),
]
MqttQueueOption = Annotated[
    int,
    typer.Option(
        min=1, max=1_000_000, help="Events kept while the broker is away.", rich_help_panel=FLEET
    ),
]
DiscoveryOption = Annotated[
    bool,
    typer.Option(
        "--discovery/--no-discovery", help="Home Assistant MQTT discovery.", rich_help_panel=FLEET
    ),
]
AcceptModelsOption = Annotated[
    bool,
    typer.Option(
        "--accept-models",
        help="Swap in models published to this device, signed with "
        "the fleet key ($EDGECLF_FLEET_KEY or --fleet-key-file).",
        rich_help_panel=FLEET,
    ),
]
FleetKeyFileOption = Annotated[
    Path | None,
    typer.Option("--fleet-key-file", help="The fleet key, from a file.", rich_help_panel=FLEET),
]


class FleetArgs(NamedTuple):
    """The fleet options `camera` and `serve` share, declared once (`with_fleet_options`)."""

    mqtt: MqttOption = None
    mqtt_ca: MqttCaOption = None
    device_id: DeviceIdOption = None
    mqtt_interval: MqttIntervalOption = 30.0
    mqtt_queue: MqttQueueOption = 1000
    discovery: DiscoveryOption = True
    accept_models: AcceptModelsOption = False
    fleet_key_file: FleetKeyFileOption = None

    def options(self):
        """The link's options, or None without --mqtt."""
        from ..fleet.device import FleetOptions

        return FleetOptions.for_command(
            self.mqtt,
            ca_file=self.mqtt_ca,
            device=self.device_id,
            interval=self.mqtt_interval,
            queue=self.mqtt_queue,
            discovery=self.discovery,
            accept_models=self.accept_models,
            key_file=self.fleet_key_file,
        )


with_fleet_options = packed_options(FleetArgs, "fleet", first=False)
