"""`make pi-smoke`: the edge commands on an emulated Raspberry Pi 4, with both TFLite runtimes.

A Debian Bookworm arm64 root (Python 3.11, as on 64-bit Raspberry Pi OS) runs under qemu-user 10
with a Cortex-A72, a Pi 4's core. The steps run once with LiteRT (NumPy 2, OpenCV 5) and once with
tflite-runtime (NumPy 1.x, OpenCV 4.x), and each accuracy is compared with the same backend's run
on this x86 machine. What it fetches (Debian packages for the root and for qemu, the aarch64
wheels, installed by the emulated pip) is cached under $EDGECLF_PI_CACHE (~/.cache/edgeclf-pi),
so a second run downloads nothing. When something cannot be fetched, it says so and skips.

    python .ci/pi_smoke.py [--cache DIR]
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MIRROR = "http://deb.debian.org/debian"
SECURITY = "http://deb.debian.org/debian-security"
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
QEMU = ("qemu-user", "bookworm-backports")  # 10.x: qemu 7.2 crashes LiteRT's Interpreter()
ROOT_PACKAGES = ("python3", "python3-pip", "libstdc++6")
RUNTIMES = {
    "litert": ["ai-edge-litert", "opencv-python-headless", "numpy"],
    "tflite": ["tflite-runtime", "numpy<2", "opencv-python-headless>=4.8,<5"],
}
BASE_REQUIREMENTS = ["typer>=0.19,<0.27", "rich>=13", "threadpoolctl>=3"]
STEP_TIMEOUT_S = 600


class Skip(Exception):
    """Something needed cannot be fetched here: say what, and skip rather than fail."""


@dataclass
class Step:
    name: str
    backend: str
    ok: bool
    detail: str
    seconds: float
    x86: str = ""


def log(message: str) -> None:
    print(f"pi-smoke: {message}", flush=True)


def run(
    cmd: list[str], what: str, env: dict | None = None, timeout: int = 1800, cwd: Path | None = None
) -> str:
    """A host command whose failure means something could not be fetched or unpacked."""
    try:
        done = subprocess.run(
            cmd, capture_output=True, text=True, env=env, timeout=timeout, cwd=cwd
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise Skip(f"{what}: {exc}") from None
    if done.returncode:
        lines = (done.stderr or done.stdout).strip().splitlines()
        raise Skip(f"{what}: {lines[-1] if lines else f'exit {done.returncode}'}")
    return done.stdout


class Apt:
    """apt-get and apt-cache with a private configuration and state under the cache: nothing
    is installed on this machine, and bookworm-backports need not be among its sources."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        for sub in ("etc/apt.conf.d", "etc/preferences.d", "state/lists/partial", "cache"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        (folder / "state" / "status").touch()
        suites = [
            (MIRROR, "bookworm"),
            (MIRROR, "bookworm-updates"),
            (MIRROR, "bookworm-backports"),
            (SECURITY, "bookworm-security"),
        ]
        (folder / "etc" / "sources.list").write_text(
            "".join(
                f"deb [arch=amd64,arm64 signed-by={KEYRING}] {url} {suite} main\n"
                for url, suite in suites
            )
        )

    def options(self, arch: str) -> list[str]:
        f = self.folder
        return [
            f"-oDir::Etc={f / 'etc'}",
            f"-oDir::Etc::SourceList={f / 'etc' / 'sources.list'}",
            "-oDir::Etc::SourceParts=/nonexistent",
            f"-oDir::State={f / 'state'}",
            f"-oDir::State::status={f / 'state' / 'status'}",
            f"-oDir::Cache={f / 'cache'}",
            f"-oAPT::Architecture={arch}",
            f"-oAPT::Architectures::={arch}",
            f"-oAPT::Sandbox::User={getpass.getuser()}",
        ]

    def update(self) -> None:
        if not any((self.folder / "state" / "lists").glob("*Packages*")):
            log("apt-get update (Debian bookworm, bookworm-backports; amd64 and arm64 lists)")
            run(["apt-get", *self.options("amd64"), "update"], "apt-get update")

    def download(self, arch: str, packages: list[str], into: Path) -> None:
        into.mkdir(parents=True, exist_ok=True)
        cmd = ["apt-get", *self.options(arch), "download", *packages]
        run(cmd, f"apt-get download ({arch})", cwd=into)

    def closure(self, arch: str, packages: tuple[str, ...]) -> list[str]:
        """The packages and everything they depend on (no recommends), for `arch`."""
        out = run(
            [
                "apt-cache", *self.options(arch), "depends", "--recurse", "--no-recommends",
                "--no-suggests", "--no-conflicts", "--no-breaks", "--no-replaces",
                "--no-enhances", "--no-pre-depends", *packages,
            ],
            "apt-cache depends",
        )  # fmt: skip
        return sorted({line for line in out.splitlines() if line and line[0] not in " <"})

    def version_in(self, package: str, suite: str) -> str:
        out = run(["apt-cache", *self.options("amd64"), "madison", package], "apt-cache madison")
        for line in out.splitlines():
            name, version, source = (part.strip() for part in line.split("|"))
            if name == package and f" {suite}/" in f" {source}":
                return version
        raise Skip(f"{package} is not in {suite}")


def extract(debs: Path, into: Path) -> None:
    for deb in sorted(debs.glob("*.deb")):
        run(["dpkg-deb", "-x", str(deb), str(into)], f"dpkg-deb -x {deb.name}")


class Emulator:
    """qemu-aarch64 10 (static) and a Bookworm arm64 root with Python 3.11, built once."""

    def __init__(self, cache: Path) -> None:
        self.cache = cache
        self.apt = Apt(cache / "apt")
        self.qemu = cache / "qemu" / "usr" / "bin" / "qemu-aarch64"
        self.root = cache / "root"

    def prepare(self) -> None:
        for tool in ("apt-get", "apt-cache", "dpkg-deb"):
            if not shutil.which(tool):
                raise Skip(f"{tool} not found: the emulated Pi is built from Debian packages")
        if not self.qemu.is_file():
            self.apt.update()
            package, suite = QEMU
            version = self.apt.version_in(package, suite)
            log(f"downloading {package} {version} ({suite}, amd64; about 63 MB)")
            debs = self.cache / "debs-qemu"
            self.apt.download("amd64", [f"{package}={version}"], debs)
            extract(debs, self.cache / "qemu")
            shutil.rmtree(debs)
        marker = self.root / ".complete"
        if not marker.is_file():
            self.apt.update()
            names = self.apt.closure("arm64", ROOT_PACKAGES)
            log(
                f"downloading {len(names)} arm64 packages for the root ({', '.join(ROOT_PACKAGES)})"
            )
            debs = self.cache / "debs-root"
            self.apt.download("arm64", [f"{n}:arm64" for n in names], debs)
            shutil.rmtree(self.root, ignore_errors=True)
            extract(debs, self.root)
            shutil.rmtree(debs)
            marker.touch()

    def python(self) -> list[str]:
        return [str(self.qemu), "-cpu", "cortex-a72", "-L", str(self.root),
                str(self.root / "usr" / "bin" / "python3.11")]  # fmt: skip

    def install(self, runtime: str) -> Path:
        """The runtime's wheels, installed by the emulated pip (aarch64 tags the host's pip
        cannot select), under ROOT/opt/<runtime>. Paths given to the guest are host paths:
        qemu's -L prefix only redirects paths that already exist under the root."""
        target = self.root / "opt" / runtime
        marker = target / ".complete"
        wants = RUNTIMES[runtime] + BASE_REQUIREMENTS
        if not marker.is_file() or marker.read_text() != " ".join(wants):  # the list changed
            shutil.rmtree(target, ignore_errors=True)
            log(f"pip (emulated aarch64) installing {', '.join(wants)} into {target}")
            cmd = [*self.python(), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                   "--no-warn-script-location", "--target", str(target), *wants]  # fmt: skip
            run(cmd, f"pip install for {runtime}", env=guest_env(""))
            marker.write_text(" ".join(wants))
        return target


def guest_env(pythonpath: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "EDGECLF_", "PIP_"))}
    env.update(PYTHONPATH=pythonpath, PIP_CONFIG_FILE="/dev/null", OPENCV_LOG_LEVEL="ERROR")
    return env


def install_edgeclf(emulator: Emulator) -> None:
    """This checkout as the wheel `make wheel` builds, installed by the emulated Pi's own pip
    (its dependencies are the runtime's, installed beside it), as a Pi user would install it."""
    target = emulator.root / "opt" / "edgeclf"
    with tempfile.TemporaryDirectory() as tmp:
        run(["make", "-C", str(ROOT), "wheel", f"DIST={tmp}"], "make wheel")
        wheel = next(Path(tmp).glob("edgeclf-*-py3-none-any.whl"))
        shutil.rmtree(target, ignore_errors=True)
        log(f"pip (emulated aarch64) installing {wheel.name} into {target}")
        cmd = [*emulator.python(), "-m", "pip", "install", "-q", "--no-deps", "--no-compile",
               "--disable-pip-version-check", "--no-warn-script-location", "--target",
               str(target), str(wheel)]  # fmt: skip
        run(cmd, "pip install the wheel", env=guest_env(""))


def demo_video(cache: Path) -> Path:
    path = cache / "garments.mp4"
    if not path.is_file():
        from edgeclf.edge.datasets.fashion_mnist import load_split
        from edgeclf.edge.datasets.synthetic import write_demo_video

        write_demo_video(path, load_split("test", download=False).images[:6], frames_per_garment=5)
    return path


def collected(folder: Path, photos: dict[str, list[Path]]) -> Path:
    """Class folders of these photos, one sitting each, named as `camera --collect` names them."""
    shutil.rmtree(folder, ignore_errors=True)
    for c, (name, members) in enumerate(photos.items()):
        (folder / name).mkdir(parents=True)
        for i, photo in enumerate(members):
            shutil.copy(photo, folder / name / f"2026120{c + 1}-090000-{i * 5:06d}.jpg")
    return folder


def shop_folder(cache: Path) -> Path:
    """Three classes of the committed photos, for the teach step."""
    import csv

    photos = ROOT / "tests" / "fixtures" / "photos"
    groups = {
        "tops": ("T-Shirt", "Polo", "Longsleeve"),
        "trousers": ("Pants",),
        "shoes": ("Shoes",),
    }
    with open(photos / "labels.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    members = {
        name: [photos / "images" / f"{row['image']}.jpg" for row in rows if row["label"] in labels]
        for name, labels in groups.items()
    }
    return collected(cache / "shop", members)


def new_classes_folder(cache: Path) -> Path:
    """Hats, shorts and skirts (committed photos), for --keep-classes."""
    new = ROOT / "tests" / "fixtures" / "new-classes"
    names = ("hat", "shorts", "skirt")
    return collected(cache / "new-classes", {n: sorted((new / n).glob("*.jpg")) for n in names})


def steps(video: Path, out: Path) -> list[tuple[str, list[str], Callable[[str, Path], str]]]:
    """(name, edgeclf arguments, check) for each step; a check returns its detail or raises."""
    photos = ROOT / "tests" / "fixtures" / "photos"
    shop = video.parent / "shop"
    taught = video.parent / "shop.tflite"  # taught with LiteRT, then run by both runtimes
    new_classes, kept = video.parent / "new-classes", video.parent / "kept.tflite"
    taught_accurate = video.parent / "shop-accurate.tflite"  # taught on the accurate tier

    def help_check(stdout: str, _: Path) -> str:
        assert "classify" in stdout and "camera" in stdout, "commands missing from --help"
        return "lists the commands"

    def table_check(stdout: str, _: Path) -> str:
        assert "Per-class counts" in stdout, "no counts table"
        return "results and counts tables"

    def json_check(stdout: str, _: Path) -> str:
        rows = [json.loads(line) for line in stdout.splitlines()]
        assert len(rows) == 40 and all("label" in r for r in rows), f"{len(rows)} JSON lines"
        return f"{len(rows)} JSON lines"

    def audit_check(stdout: str, _: Path) -> str:
        assert "Catalog mismatches" in stdout, "no audit table"
        return stdout.split("Catalog mismatches: ", 1)[1].splitlines()[0]

    def bench_check(_: str, report: Path) -> str:
        r = json.loads(report.read_text())
        return f"{r['accuracy']:.2%} of {r['n']} ({r['backend']} {r['backend_version']})"

    def teach_check(stdout: str, _: Path) -> str:
        assert "Taught 3 classes" in stdout, "no teach table"
        return stdout.split("Taught 3 classes in ", 1)[1].split()[0] + " s of teaching"

    def kept_check(stdout: str, _: Path) -> str:
        assert "kept: the base's 10 classes" in stdout, "no kept classes"
        return stdout.split("Taught 3 classes in ", 1)[1].split()[0] + " s, 13 classes"

    def taught_check(stdout: str, _: Path) -> str:
        rows = [json.loads(line) for line in stdout.splitlines()]
        right = sum(Path(r["path"]).parent.name == r["label"] for r in rows)
        assert rows and right >= 0.7 * len(rows), f"{right} of {len(rows)} right"
        return f"{right} of {len(rows)} own-class photos right"

    def camera_check(stdout: str, _: Path) -> str:
        rows = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
        assert len(rows) == 30, f"{len(rows)} frames"
        return f"{len(rows)} frames classified"

    fashion = ["--model", "{models}/fashion_int8.tflite"]
    photo = ["--model", "{models}/photo_int8.tflite"]
    accurate = ["--model", "{models}/photo_lite0_int8.tflite"]
    report = ["--json", str(out)]
    return [
        ("--help", ["--help"], help_check),
        ("classify (table)", ["classify", str(photos / "images")], table_check),
        ("classify --json", ["classify", str(photos / "images"), "--json"], json_check),
        (
            "classify --expect-dirs",
            ["classify", str(ROOT / "examples"), "--expect-dirs", *fashion],
            audit_check,
        ),  # fmt: skip
        (
            "bench --limit 500",
            ["bench", *fashion, "--limit", "500", "--runs", "20", *report],
            bench_check,
        ),  # fmt: skip
        (
            "bench photo model",
            ["bench", *photo, "--images", str(photos), "--runs", "20", *report],
            bench_check,
        ),  # fmt: skip
        (
            "bench accurate model",
            ["bench", *accurate, "--images", str(photos), "--runs", "20", *report],
            bench_check,
        ),  # fmt: skip
        ("teach (LiteRT)", ["teach", str(shop), "-o", str(taught)], teach_check),
        (
            "teach accurate (LiteRT)",
            ["teach", str(shop), "-o", str(taught_accurate), "--base", accurate[1]],
            teach_check,
        ),  # fmt: skip
        (
            "teach --keep-classes (LiteRT)",
            ["teach", str(new_classes), "-o", str(kept), "--keep-classes"],
            kept_check,
        ),  # fmt: skip
        (
            "classify taught model",
            ["classify", str(shop), "--json", "--model", str(taught)],
            taught_check,
        ),  # fmt: skip
        (
            "classify accurate-taught model",
            ["classify", str(shop), "--json", "--model", str(taught_accurate)],
            taught_check,
        ),  # fmt: skip
        (
            "camera --headless",
            ["camera", "--source", str(video), "--headless", "--max-frames", "30", *photo],
            camera_check,
        ),  # fmt: skip
    ]


def compared(name: str) -> bool:
    """The steps whose result must match the same runtime's on x86: the accuracies."""
    return name.startswith("bench")


def images_right(detail: str) -> int | None:
    """How many images a bench step got right, from its "81.58% of 38 (...)" line."""
    found = re.match(r"([\d.]+)% of (\d+)", detail)
    return round(float(found[1]) * int(found[2]) / 100) if found else None


def matches_x86(mine: str, theirs: str) -> bool:
    """The same accuracy, or one image apart: int8 kernels differ between x86 and aarch64 (and
    with the emulated CPU's features), and a borderline image can fall either way. Seen on the
    committed photos: 30 of 38 on emulated aarch64 LiteRT against 31 on x86, for the same
    model and wheels."""
    a, b = images_right(mine), images_right(theirs)
    return mine == theirs or (a is not None and b is not None and abs(a - b) <= 1)


def run_steps(
    prefix: list[str],
    env: dict,
    models: str,
    backend: str,
    video: Path,
    only: Callable[[str], bool] = lambda name: True,
) -> list[Step]:
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bench.json"
        for name, args, check in steps(video, out):
            if not only(name):
                continue
            args = [a.replace("{models}", models) for a in args]
            started = time.perf_counter()
            try:
                done = subprocess.run(
                    [*prefix, *args],
                    capture_output=True,
                    text=True,
                    env=env,
                    timeout=STEP_TIMEOUT_S,
                )
                if done.returncode:
                    lines = done.stderr.strip().splitlines() or [f"exit {done.returncode}"]
                    raise AssertionError(f"exit {done.returncode}: {lines[-1]}")
                detail, ok = check(done.stdout, out), True
            except (AssertionError, subprocess.TimeoutExpired, ValueError, KeyError) as exc:
                detail, ok = str(exc) or type(exc).__name__, False
            results.append(Step(name, backend, ok, detail, time.perf_counter() - started))
            out.unlink(missing_ok=True)
    return results


def x86_prefix(backend: str) -> list[str] | None:
    """This machine's edgeclf with the same runtime: the project venv (LiteRT), or the
    tflite-runtime venv that `make test-tflite` builds."""
    venv = ROOT / (".venv" if backend == "litert" else ".venv-tflite")
    python = venv / "bin" / "python"
    return [str(python), "-m", "edgeclf.edge.cli.app"] if python.is_file() else None


def print_table(results: list[Step]) -> None:
    headers = ["step", "backend", "result", "s", "same as x86"]
    rows = [
        [r.name, r.backend, ("ok: " if r.ok else "FAILED: ") + r.detail, f"{r.seconds:.0f}", r.x86]
        for r in results
    ]
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows, strict=True)]
    for row in [headers, ["-" * w for w in widths], *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(os.environ.get("EDGECLF_PI_CACHE", Path.home() / ".cache" / "edgeclf-pi"))
    parser.add_argument("--cache", type=Path, default=default)
    args = parser.parse_args()
    cache = args.cache.resolve()
    cache.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    emulator = Emulator(cache)
    try:
        emulator.prepare()
        targets = {name: emulator.install(name) for name in RUNTIMES}
        install_edgeclf(emulator)
    except Skip as exc:
        print(f"pi-smoke SKIPPED: cannot fetch what the emulated Pi needs ({exc})", flush=True)
        return 0
    video = demo_video(cache)
    shop_folder(cache)
    new_classes_folder(cache)
    results: list[Step] = []
    for backend in targets:
        log(f"running the steps on emulated aarch64 with {backend}")
        prefix = [*emulator.python(), "-m", "edgeclf.edge.cli.app"]
        edgeclf = emulator.root / "opt" / "edgeclf"
        env = guest_env(f"{edgeclf}:{targets[backend]}")
        # Teaching writes the model through LiteRT's TFLite schema, which tflite-runtime lacks:
        # the model taught with LiteRT is then classified with both runtimes.
        both = lambda name, b=backend: b == "litert" or not name.startswith("teach")  # noqa: E731
        models_dir = str(edgeclf / "edgeclf" / "models")
        steps_run = run_steps(prefix, env, models_dir, backend, video, both)
        x86 = x86_prefix(backend)
        models = str(ROOT / "models")
        local = run_steps(x86, guest_env(""), models, backend, video, compared) if x86 else []
        mine = {r.name: r for r in local}
        for step in filter(lambda r: compared(r.name), steps_run):
            theirs = mine.get(step.name)
            if theirs is None:
                step.x86 = "no x86 venv to compare with"
                continue
            same = matches_x86(step.detail, theirs.detail)
            exact = step.detail == theirs.detail
            step.x86 = (
                "yes" if exact else f"{'one image apart' if same else 'no'}: x86 {theirs.detail}"
            )
            step.ok = step.ok and same
        results += steps_run
    print_table(results)
    size = sum(f.stat().st_size for f in cache.rglob("*") if f.is_file() and not f.is_symlink())
    log(f"{time.perf_counter() - started:.0f} s, cache {cache} holds {size / 2**20:.0f} MB")
    failed = [r for r in results if not r.ok]
    if failed:
        print(f"pi-smoke FAILED: {len(failed)} of {len(results)} steps", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
