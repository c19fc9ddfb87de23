"""Sustained FPS and per-stage latency of `edgeclf camera` on a 640x480 video.

    python benchmarks/camera_fps.py [--frames 600] [--threads 1]

Writes a synthetic 640x480 clip of test-set garments, runs the camera pipeline headless over every
frame, and prints the summary: FPS, capture wait, preprocess and inference times, model share.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from edgeclf.edge.camera import CameraOptions, LiveClassifier
from edgeclf.edge.classifier import Classifier
from edgeclf.edge.dataset import load_split
from edgeclf.edge.synthetic import write_demo_video


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=600)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        video = Path(tmp) / "garments.mp4"
        test = load_split("test")
        write_demo_video(video, test.images[: args.frames // 10], frames_per_garment=10)
        opts = CameraOptions(source=str(video), headless=True)
        summary = LiveClassifier(
            Classifier(threads=args.threads), opts, emit=lambda line: None
        ).run()
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
