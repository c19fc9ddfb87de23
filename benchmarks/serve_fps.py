"""FPS that `edgeclf serve` delivers to 1 and to 5 MJPEG clients from one 30 FPS source.

    python benchmarks/serve_fps.py [--seconds 10]

Starts a server on loopback fed by a synthetic 640x480 video played at its own frame rate, reads
/stream.mjpg with N clients at once, and prints frames per second per client and the pipeline's FPS.
"""

from __future__ import annotations

import argparse
import socket
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn

from edgeclf.edge.datasets.fashion_mnist import load_split
from edgeclf.edge.datasets.synthetic import write_demo_video
from edgeclf.edge.live.service import LiveService
from edgeclf.edge.live.stream import LiveOptions
from edgeclf.edge.runtime.classifier import Classifier
from edgeclf.edge.serve.app import create_app


def count_frames(url: str, seconds: float, out: list[int]) -> None:
    frames = 0
    deadline = time.perf_counter() + seconds
    with httpx.stream("GET", url, timeout=10) as response:
        for chunk in response.iter_bytes():
            frames += chunk.count(b"--frame\r\n")
            if time.perf_counter() > deadline:
                break
    out.append(frames)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        video = Path(tmp) / "garments.mp4"
        write_demo_video(video, load_split("test").images[:30], frames_per_garment=10, fps=30.0)
        live = LiveService(Classifier(), LiveOptions(source=str(video), loop=True, realtime=True))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = uvicorn.Server(
            uvicorn.Config(create_app(Classifier(), live), port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        time.sleep(1.5)
        for clients in (1, 5):
            counts: list[int] = []
            before = live.live.processed
            workers = [
                threading.Thread(
                    target=count_frames,
                    args=(f"http://127.0.0.1:{port}/stream.mjpg", args.seconds, counts),
                )
                for _ in range(clients)
            ]
            for w in workers:
                w.start()
            for w in workers:
                w.join()
            pipeline = (live.live.processed - before) / args.seconds
            per_client = ", ".join(f"{c / args.seconds:.1f}" for c in counts)
            print(f"{clients} client(s): {per_client} FPS each; pipeline {pipeline:.1f} FPS")
        server.should_exit = True
        thread.join()


if __name__ == "__main__":
    main()
