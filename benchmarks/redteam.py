"""`make redteam`: the worst hostile inputs found so far, in under three minutes, checked three ways:
no traceback, bounded peak memory, and nothing written outside the folder a command was given.

Images that cost the most to decode (a 16-bit RGBA PNG of 24 MP in 200 KB, a 49 MP JPEG, a 23 MP
16-bit TIFF, header bombs), `classify` on each and serve's uploads of each (alone, eight at
once, and under a 1 GB address-space limit), a thousand slow kept-alive connections, and the
outputs that used to escape their folder. Exit code 1 when any check fails.

    python benchmarks/redteam.py [--keep DIR]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
EDGECLF = str(Path(sys.executable).with_name("edgeclf"))
PHOTO = sorted((ROOT / "tests" / "fixtures" / "photos" / "images").glob("*.jpg"))[0]
MAX_RSS_MB = 300


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


CHECKS: list[Check] = []


def check(name: str, ok: bool, detail: str = "") -> None:
    CHECKS.append(Check(name, ok, detail))
    print(f"{'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}", flush=True)


def run(
    *args: str, limit_memory: int | None = None, cwd: Path | None = None
) -> tuple[int, str, float]:
    """A command's exit code, its stderr and its peak RSS in MB (from the kernel, per child)."""

    def limit() -> None:
        if limit_memory:
            resource.setrlimit(resource.RLIMIT_AS, (limit_memory, limit_memory))

    proc = subprocess.Popen(
        [EDGECLF, *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=limit,
        cwd=cwd,
    )
    stderr = proc.stderr.read().decode("utf-8", "replace")
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, stderr, usage.ru_maxrss / 1024


# --- the worst images ---------------------------------------------------------------------------


def worst_images(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    made = {}
    png16 = np.zeros((4900, 4900, 4), np.uint16)
    png16[1000:3900, 1500:3400] = (20000, 30000, 40000, 65535)
    made["16-bit RGBA PNG, 24 MP"] = write(folder / "png16.png", cv2.imencode(".png", png16)[1])
    del png16
    photo = cv2.imread(str(PHOTO))
    big = cv2.resize(photo, (7000, 7000))
    made["JPEG, 49 MP"] = write(folder / "big.jpg", cv2.imencode(".jpg", big)[1])
    del big
    y, x = np.mgrid[0:4800, 0:4800]
    tiff = np.stack([(x * 13) % 65535, (y * 7) % 65535, ((x + y) * 3) % 65535, x * 0 + 65535], -1)
    encoded = cv2.imencode(".tif", tiff.astype(np.uint16), [cv2.IMWRITE_TIFF_COMPRESSION, 5])[1]
    made["16-bit RGBA TIFF, 23 MP"] = write(folder / "t16.tif", encoded)
    del tiff, y, x
    jpeg = PHOTO.read_bytes()
    sof = jpeg.index(b"\xff\xc0")
    claim = bytearray(jpeg)
    claim[sof + 5 : sof + 9] = (30000).to_bytes(2, "big") * 2
    made["JPEG claiming 30000x30000"] = write(folder / "claim.jpg", bytes(claim))
    made["motion photo (MP4 after the JPEG)"] = write(
        folder / "motion.jpg", jpeg + b"\x00\x00\x00\x18ftypmp42" + bytes(200_000)
    )
    made["JPEG cut short"] = write(folder / "cut.jpg", jpeg[: len(jpeg) // 2])
    scan = jpeg.index(b"\xff\xda")
    made["JPEG whose data ends early"] = write(
        folder / "early.jpg", jpeg[: scan + (len(jpeg) - scan) // 3] + b"\xff\xd9"
    )
    made["Radiance HDR, 49 MP header"] = write(
        folder / "x.hdr", b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 7000 +X 7000\n" + bytes(1000)
    )
    return made


def write(path: Path, data) -> Path:
    path.write_bytes(bytes(data))
    return path


def classify_each(images: dict[str, Path]) -> None:
    for name, path in images.items():
        code, stderr, rss = run("classify", str(path), "--json")
        ok = code in (0, 1) and "Traceback" not in stderr and rss < MAX_RSS_MB
        check(f"classify {name}", ok, f"exit {code}, peak {rss:.0f} MB")


# --- serve ----------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`edgeclf serve` (`--source none` unless `args` say otherwise) in a child, on a free port,
    optionally under an address-space limit; ready once /healthz answers on loopback."""

    def __init__(
        self, limit_memory: int | None = None, args: tuple[str, ...] = ("--source", "none")
    ) -> None:
        self.port = free_port()

        def limit() -> None:
            if limit_memory:
                resource.setrlimit(resource.RLIMIT_AS, (limit_memory, limit_memory))

        self.proc = subprocess.Popen(
            [EDGECLF, "serve", *args, "--port", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=limit,
        )
        for _ in range(200):
            if self.healthz() == 200:
                return
            time.sleep(0.05)
        raise RuntimeError(f"serve did not start: {self.stop()}")

    def healthz(self) -> int | None:
        import httpx

        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=2).status_code
        except httpx.HTTPError:
            return None

    def upload(self, path: Path) -> int:
        import httpx

        files = {"file": (path.name, path.read_bytes(), "application/octet-stream")}
        return httpx.post(
            f"http://127.0.0.1:{self.port}/classify", files=files, timeout=60
        ).status_code

    def peak_mb(self) -> float:
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        line = next(x for x in status.splitlines() if x.startswith("VmHWM:"))
        return int(line.split()[1]) / 1024

    def stop(self) -> str:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        return self.proc.stderr.read().decode("utf-8", "replace")


def serve_uploads(images: dict[str, Path]) -> None:
    server = Server()
    try:
        for name, path in images.items():
            status = server.upload(path)
            check(f"serve upload: {name}", status < 500, f"HTTP {status}")
        worst = images["16-bit RGBA PNG, 24 MP"]
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(lambda _: server.upload(worst), range(8)))
        peak = server.peak_mb()
        check(
            "serve: eight parallel uploads of the worst image",
            all(s == 200 for s in statuses) and peak < MAX_RSS_MB,
            f"HTTP {sorted(set(statuses))}, server peak {peak:.0f} MB",
        )
    finally:
        stderr = server.stop()
    check("serve: no traceback", "Traceback" not in stderr)

    limited = Server(limit_memory=2**30)
    try:
        statuses = {name: limited.upload(path) for name, path in images.items()}
        alive = limited.healthz()
    finally:
        stderr = limited.stop()
    check(
        "serve under a 1 GB address-space limit: every upload answered, /healthz 200",
        all(s < 500 for s in statuses.values()) and alive == 200 and "Traceback" not in stderr,
        ", ".join(f"{s}" for s in statuses.values()) + f"; healthz {alive}",
    )


def is_closed(sock: socket.socket) -> bool:
    """Whether the server closed `sock` (what it still had to say read away first)."""
    sock.setblocking(False)
    try:
        while chunk := sock.recv(65536):
            del chunk
        return True  # end of stream
    except BlockingIOError:
        return False
    except OSError:  # reset: closed too
        return True


def slow_connections(count: int = 1000) -> None:
    """A thousand connections that each made one quick request and now trickle the next one's
    headers: a new client must still get an answer within a second, and they must be closed."""
    server = Server()
    held = []
    try:
        for _ in range(count):
            s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            s.recv(4096)
            s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            held.append(s)
        started = time.perf_counter()
        status = server.healthz()
        answered = time.perf_counter() - started
        check(
            f"serve: a new client among {count} slow kept-alive connections",
            status == 200 and answered < 1,
            f"HTTP {status} in {answered:.2f} s",
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            for s in held:
                with contextlib.suppress(OSError):
                    s.send(b"X")
            time.sleep(1)
        closed = sum(map(is_closed, held))
        check("serve: slow connections closed within 15 s", closed == count, f"{closed} of {count}")
    finally:
        for s in held:
            s.close()
        server.stop()


# --- nothing written outside the named folder -----------------------------------------------------


def files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*")}


def stays_inside(box: Path) -> None:
    out = box / "out"
    out.mkdir()
    (box / "elsewhere.csv").write_text("a file outside the output folder\n")
    (out / "report.csv").symlink_to(box / "elsewhere.csv")
    photos = box / "photos"
    shutil.copytree(ROOT / "tests" / "fixtures" / "photos", photos)
    with open(photos / "labels.csv", "a") as f:
        f.write("../../elsewhere,9,Shirt,False\n")
    catalog = box / "catalog" / "Trouser"
    catalog.mkdir(parents=True)
    shutil.copy(PHOTO, catalog)
    catalog = catalog.parent
    clip = box / "clip.mp4"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), 10, (320, 240))
    for _ in range(10):
        writer.write(cv2.resize(cv2.imread(str(PHOTO)), (320, 240)))
    writer.release()
    before = files_under(box)
    attempts: list[tuple[str, Callable[[], tuple[int, str, float]]]] = [
        ("collect --label ../escape", lambda: run(
            "camera", "--source", str(clip), "--headless", "--collect", str(out), "--label", "../escape"
        )),
        ("collect --label /absolute", lambda: run(
            "camera", "--source", str(clip), "--headless", "--collect", str(out), "--label", str(box / "abs")
        )),
        ("bench on a labels.csv row climbing out", lambda: run(
            "bench", "--images", str(photos), "--runs", "10"
        )),
        ("--report onto a symlink", lambda: run(
            "classify", str(catalog), "--expect-dirs", "--report", str(out / "report.csv")
        )),
        ("--record onto its own --source", lambda: run(
            "camera", "--source", str(clip), "--headless", "--record", str(clip)
        )),
        ("collect --label ok (the one allowed write)", lambda: run(
            "camera", "--source", str(clip), "--headless", "--collect", str(out), "--label", "ok"
        )),
    ]  # fmt: skip
    for name, attempt in attempts:
        code, stderr, _ = attempt()
        check(f"writes: {name}", "Traceback" not in stderr, f"exit {code}")
    new = files_under(box) - before
    escaped = sorted(str(p.relative_to(box)) for p in new if out not in p.parents)
    check("writes: nothing new outside the named folder", not escaped, ", ".join(escaped))
    check("writes: the symlink is still a symlink", (out / "report.csv").is_symlink())
    written = (box / "elsewhere.csv").read_text()
    check("writes: the report went through the symlink", written.startswith("path,catalog"))
    check("writes: the source video is intact", cv2.VideoCapture(str(clip)).isOpened())


def off_loopback_writes() -> None:
    """serve on every address, no --token and --no-token: a cross-site form can't write."""
    import httpx

    folder = Path(tempfile.mkdtemp(prefix="edgeclf-csrf-"))
    clip = folder / "clip.mp4"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), 10, (320, 240))
    for _ in range(20):
        writer.write(cv2.resize(cv2.imread(str(PHOTO)), (320, 240)))
    writer.release()
    args = ("--source", str(clip), "--host", "0.0.0.0", "--collect", str(folder / "mine"),
            "--classes", "jeans")  # fmt: skip
    for extra, name in (((), "made-up token"), (("--no-token",), "--no-token")):
        server = Server(args=(*args, *extra))
        base = f"http://127.0.0.1:{server.port}"
        try:
            form = {"origin": "http://attacker.example", "content-type": "text/plain"}
            codes = [
                httpx.post(base + path, headers=form).status_code
                for path in ("/api/classes/evil", "/api/collect/jeans", "/api/learn")
            ]
            check(f"serve --host 0.0.0.0 ({name}): cross-site writes refused",
                  all(400 <= c < 500 for c in codes), f"HTTP {codes}")  # fmt: skip
            if extra:
                unknown = httpx.get(base + "/api/collect/nope/images").status_code
                check("serve: an unknown class's images are 404", unknown == 404, f"HTTP {unknown}")
        finally:
            server.stop()
    saved = list((folder / "mine").rglob("*.jpg")) if (folder / "mine").exists() else []
    check("serve: nothing captured by the cross-site writes", not saved, f"{len(saved)} files")
    shutil.rmtree(folder, ignore_errors=True)


def hardening_rows(box: Path) -> None:
    """The rows of the last red-team pass, each answered in one line, fast."""
    code, stderr, _ = run("classify", str(PHOTO), "--threads", "100000")
    check("classify --threads 100000: refused, no crash", code == 2 and "Segmentation" not in stderr,
          f"exit {code}")  # fmt: skip
    (box / "file").write_text("x")
    started = time.perf_counter()
    code, stderr, rss = run("convert", str(ROOT / "models" / "photo.keras"), "-o",
                            str(box / "file" / "x.tflite"))  # fmt: skip
    seconds = time.perf_counter() - started
    check("convert -o under a file: refused within 2 s and 150 MB",
          code != 0 and seconds < 2 and rss < 150, f"{seconds:.1f} s, {rss:.0f} MB")  # fmt: skip
    shop = box / "shop"
    for name in ("hat", "cap"):
        (shop / name).mkdir(parents=True)
        for i in range(3):
            shutil.copy(PHOTO, shop / name / f"{i}.jpg")
            with open(shop / name / f"{i}.jpg", "ab") as f:
                f.write(bytes([i, len(name)]))
    code, stderr, _ = run("teach", str(shop), "-o", "/dev/null")
    check("teach -o /dev/null: no /dev/null.json", code == 0 and not Path("/dev/null.json").exists(),
          f"exit {code}: {stderr.strip().splitlines()[-1:]}")  # fmt: skip
    from edgeclf.edge.tflite.model_file import with_metadata

    deep = box / "deep.tflite"
    data = (ROOT / "models" / "photo_int8.tflite").read_bytes()
    deep.write_bytes(with_metadata(data, "edgeclf_card", b"[" * 5000 + b"]" * 5000))
    code, stderr, _ = run("classify", str(PHOTO), "--model", str(deep))
    check("a card nested too deep: one line", "Traceback" not in stderr
          and len(stderr.strip().splitlines()) == 1, stderr.strip()[:80])  # fmt: skip
    models = box / "models"
    models.mkdir()
    for name in ("photo_int8.tflite", "photo_int8.json"):
        shutil.copy(ROOT / "models" / name, models / name)
    with open(models / "photo_int8.bank.npz", "wb") as f:
        np.savez(f, features=np.full((4, 2, 160), np.nan, np.float32))
    code, stderr, _ = run("teach", str(shop), "-o", str(box / "k.tflite"), "--keep-classes",
                          "--base", str(models / "photo_int8.tflite"))  # fmt: skip
    check("a tampered bank: one line", code != 0 and "Traceback" not in stderr
          and "not a usable feature bank" in stderr, stderr.strip()[:80])  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="keep the generated files in this folder")
    args = parser.parse_args()
    started = time.perf_counter()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)  # this script holds the slow sockets
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    work = args.keep or Path(tempfile.mkdtemp(prefix="edgeclf-redteam-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        images = worst_images(work / "images")
        classify_each(images)
        serve_uploads(images)
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        slow_connections(min(1000, soft - 64))  # what this script itself may hold open
        box = work / "box"
        shutil.rmtree(box, ignore_errors=True)
        box.mkdir()
        stays_inside(box)
        rows = work / "rows"
        shutil.rmtree(rows, ignore_errors=True)
        rows.mkdir()
        hardening_rows(rows)
        off_loopback_writes()
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    failed = [c for c in CHECKS if not c.ok]
    print(
        f"{len(CHECKS) - len(failed)} of {len(CHECKS)} checks passed in "
        f"{time.perf_counter() - started:.0f} s" + (f"; failed: {len(failed)}" if failed else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
