"""A camera or serve on the fleet: its options (built by keyword from the command line), and the
link started with a model-swapping callback that checks a received model before it runs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..atomic import write_bytes
from ..cache import cache_dir
from ..errors import EdgeclfError, ModelError
from ..runtime.classifier import Classifier
from .envelope import fleet_key
from .link import FleetLink, Say, say_on_stderr
from .topics import device_id, parse_url


@dataclass(frozen=True, kw_only=True)
class FleetOptions:
    url: str
    device: str
    ca_file: Path | None = None
    interval: float = 30.0
    queue: int = 1000
    discovery: bool = True
    accept_models: bool = False
    key_file: Path | None = None

    @classmethod
    def for_command(cls, mqtt: str | None, **options) -> FleetOptions | None:
        """The options `camera` and `serve` take; None without --mqtt (then the others are
        refused, so a typo never silently publishes nothing)."""
        if not mqtt:
            if options.get("accept_models") or options.get("device") is not None:
                raise EdgeclfError("--device-id and --accept-models go with --mqtt URL")
            return None
        parse_url(mqtt)  # a bad URL is one line now, before the camera opens
        options["device"] = device_id(options.get("device"))
        if options.get("accept_models"):
            fleet_key(options.get("key_file"))  # no key: refused now
        return cls(url=mqtt, **options)


class Swapper:
    """Takes a verified model in: written to the cache, loaded whole (its card inside), its
    input of the same kind as the running model's, then swapped in as Learn does."""

    def __init__(self, live, device: str) -> None:
        self.live, self.folder = live, cache_dir() / "fleet" / device

    def __call__(self, model: bytes, name: str) -> str:
        import hashlib

        path = self.folder / f"{hashlib.sha256(model).hexdigest()[:16]}-{Path(name).name}"
        write_bytes(path, model)
        try:
            clf = Classifier(path)
        except ModelError as exc:
            path.unlink(missing_ok=True)
            raise EdgeclfError(f"{name}: {exc}") from None
        running = self.live.clf.contract
        if clf.card is None:
            path.unlink(missing_ok=True)
            raise EdgeclfError(f"{name}: no card inside it (its classes and input are unknown)")
        if clf.contract.recipe != running.recipe:
            path.unlink(missing_ok=True)
            raise EdgeclfError(
                f"{name}: takes {clf.contract.recipe} input; this device runs {running.recipe}"
            )
        self.live.swap(clf)
        return f"{name} ({', '.join(clf.labels)})"


def frame_publisher(link: FleetLink, live):
    """Each classified frame to the link, with the model in use now (a Learn or a model from the
    fleet swaps it)."""
    return lambda result: link.see(result.to_dict(), live.clf.name, list(live.clf.labels))


def start_link(opts: FleetOptions, live, version: str, say: Say = say_on_stderr) -> FleetLink:
    """The device's link, connecting in the background."""
    key = fleet_key(opts.key_file) if opts.accept_models else None
    link = FleetLink(
        parse_url(opts.url),
        opts.device,
        ca_file=opts.ca_file,
        discovery=opts.discovery,
        interval=opts.interval,
        queue=opts.queue,
        accept=Swapper(live, opts.device) if opts.accept_models else None,
        key=key,
        version=version,
        say=say,
    )
    return link.start()
