"""Sustained FPS and per-stage latency of `edgeclf camera` on a 640x480 video.

    python benchmarks/camera_fps.py [--frames 600] [--threads 1]

Writes a synthetic 640x480 clip of test-set garments, runs the camera pipeline headless over every
frame, and prints the summary: FPS, capture wait, preprocess and inference times, model share.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
from pathlib import Path

from edgeclf.edge.datasets.fashion_mnist import load_split
from edgeclf.edge.datasets.synthetic import write_demo_video
from edgeclf.edge.live.camera import CameraOptions, run_camera
from edgeclf.edge.live.stream import LiveOptions
from edgeclf.edge.runtime.classifier import DEFAULT_MODEL, Classifier


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=600)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--model", default=None, help="default: the bundled photo model")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        video = Path(tmp) / "garments.mp4"
        test = load_split("test")
        write_demo_video(video, test.images[: args.frames // 10], frames_per_garment=10)
        clf = Classifier(args.model or DEFAULT_MODEL, threads=args.threads)
        live = LiveOptions(source=str(video))
        summary = run_camera(clf, live, CameraOptions(headless=True), emit=lambda line: None)
    print(json.dumps({"model": clf.name, **dataclasses.asdict(summary)}, indent=2))


if __name__ == "__main__":
    main()
