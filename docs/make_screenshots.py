"""The pictures in the docs, made from the project's own runs: serve's page on a desktop and on a
phone (headless Chromium), and the camera window after `l` (the window's own drawing code).

    python docs/make_screenshots.py [--out docs/img]

Needs Debian's chromium and the dev extra (playwright); takes about half a minute.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
NEW = ROOT / "tests" / "fixtures" / "new-classes"
EDGECLF = str(Path(sys.executable).with_name("edgeclf"))
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]


def clip_of_photos(path: Path, frames_each: int = 20) -> Path:
    """A 640x480 clip of the committed hats, shorts and skirts, each held still on a table."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 15, (640, 480))
    rng = np.random.default_rng(0)
    for photo in sorted(NEW.glob("*/*.jpg"))[::3]:
        image = cv2.imread(str(photo))
        scale = 300 / max(image.shape[:2])
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        canvas = np.full((480, 640, 3), (196, 204, 210), np.uint8)
        h, w = image.shape[:2]
        for _ in range(frames_each):
            dy, dx = rng.integers(-4, 5, 2)
            frame = canvas.copy()
            y, x = 90 + dy, 170 + dx
            frame[y : y + h, x : x + w] = image
            writer.write(frame)
    writer.release()
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serving(clip: Path, collect: Path, env: dict):
    port = free_port()
    args = [EDGECLF, "serve", "--source", str(clip), "--port", str(port), "--collect", str(collect)]
    proc = subprocess.Popen(args, env=env, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        import httpx

        for _ in range(100):
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(base + "/healthz").status_code == 200:
                    break
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def collected(folder: Path) -> None:
    """Eight photos of each class, as a sitting of collect names them."""
    for c, name in enumerate(("hat", "shorts", "skirt")):
        (folder / name).mkdir(parents=True)
        for i, photo in enumerate(sorted((NEW / name).glob("*.jpg"))[:8]):
            shutil.copy(photo, folder / name / f"2026120{c + 1}-0900{i:02d}-{i * 5:06d}.jpg")


def page_shots(base: str, out: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.goto(base + "/")
        page.wait_for_selector("#collect:not(.hidden)", timeout=15000)
        page.wait_for_function("document.getElementById('label').dataset.label", timeout=15000)
        page.click("#learn")
        page.wait_for_function(
            "document.getElementById('learn-status').dataset.model", timeout=60000
        )
        time.sleep(1.5)  # the stream follows the new model
        page.screenshot(path=str(out / "serve-desktop.png"))
        phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
        phone.goto(base + "/")
        phone.wait_for_selector("#collect:not(.hidden)", timeout=15000)
        phone.wait_for_function("document.getElementById('label').dataset.label", timeout=15000)
        phone.evaluate("document.getElementById('capture').scrollIntoView({block: 'center'})")
        time.sleep(1.0)
        phone.screenshot(path=str(out / "serve-phone.png"))
        browser.close()


def camera_shot(clip: Path, collect: Path, out: Path) -> None:
    """The camera window's frame after `l`, drawn by the window's own code."""
    from edgeclf.edge.live import overlay
    from edgeclf.edge.live.camera import learned_lines
    from edgeclf.edge.live.collect import CollectOptions, Collector
    from edgeclf.edge.live.learning import Learner
    from edgeclf.edge.live.stream import LiveClassifier, LiveOptions
    from edgeclf.edge.runtime.classifier import Classifier

    live = LiveClassifier(Classifier(), LiveOptions(source=str(clip), smooth=0.0))
    learner = Learner(collect, live.swap)
    result = learner.run()
    capture = cv2.VideoCapture(str(clip))
    for _ in range(25):
        ok, frame = capture.read()
    capture.release()
    shown = live.step(frame, (150, 70, 340, 340))
    collector = Collector(CollectOptions(collect))
    drawn = overlay.with_counts(shown.plot(), collector.lines())
    drawn = overlay.with_banner(drawn, learned_lines(result))
    cv2.imwrite(str(out / "camera-after-learn.png"), drawn)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        env = {**os.environ, "EDGECLF_CACHE": str(work / "cache")}
        os.environ["EDGECLF_CACHE"] = env["EDGECLF_CACHE"]
        clip = clip_of_photos(work / "garments.mp4")
        collected(work / "mine")
        with serving(clip, work / "mine", env) as base:
            page_shots(base, args.out)
        camera_shot(clip, work / "mine", args.out)
    for path in sorted(args.out.glob("*.png")):
        print(f"wrote {path} ({path.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
