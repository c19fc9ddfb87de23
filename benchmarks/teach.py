"""`edgeclf teach` on the clothing photos: the figures README and models/README quote.

1. Three classes, 20 photos each, collected one sitting per class (named as `camera --collect`
   names them), from senders on the training side of the bundled model's split; scored on every
   photo of those classes from the validation senders (people neither model ever saw). Teach
   and `classify` over the same 60 photos are timed side by side, as whole processes.
2. The ten own labels (T-Shirt, Pants, ...): sender split, seed 0, 598 validation photos, at 20,
   50, 100 and all training photos per class; wall time and peak RSS (features cached after the
   first run, as a re-teach would find them).
3. A warm-cache teach of every photo (all 20 labels, 5,026 photos), alone and beside two busy
   processes (each spinning one core, as a camera loop and a browser would): the fit is what is
   left once the features are cached, and where a busy CPU used to cost 7 to 12 times.

    python benchmarks/teach.py [--photos ../shared/data/clothing-photos] [--runs 5] [--only 3]
        [--base accurate]
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from edgeclf.edge.datasets.photoset import group_split

ROOT = Path(__file__).resolve().parent.parent
EDGECLF = [sys.executable, "-m", "edgeclf.edge.cli.app"]
THREE = ("T-Shirt", "Pants", "Shoes")
TEN = "T-Shirt,Pants,Longsleeve,Shoes,Shirt,Dress,Shorts,Outwear,Hat,Skirt"


def timed(args: list[str], env: dict) -> tuple[float, str]:
    started = time.perf_counter()
    out = subprocess.run([*EDGECLF, *args], capture_output=True, text=True, env=env, check=True)
    return time.perf_counter() - started, out.stdout


def peak_rss_mb(args: list[str], env: dict) -> float:
    """Peak RSS of one command, run alone in a child (ru_maxrss of the children that ended)."""
    probe = (
        "import resource, subprocess, sys\n"
        "subprocess.run(sys.argv[1:], check=True, capture_output=True)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe, *EDGECLF, *args], env=env, check=True,
                         capture_output=True, text=True)  # fmt: skip
    return int(out.stdout.split()[-1]) / 1024


def three_classes(photos: Path, work: Path, runs: int, env: dict, base: list[str]) -> None:
    with open(photos / "labels.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    train, val = group_split(np.array([r["sender_id"] for r in rows]), 0.15, 0)
    shop, unseen = work / "shop", work / "unseen"
    rng = random.Random(0)
    for c, name in enumerate(THREE):
        mine = [rows[i] for i in train if rows[i]["label"] == name]
        rng.shuffle(mine)
        (shop / name).mkdir(parents=True)
        (unseen / name).mkdir(parents=True)
        for i, row in enumerate(mine[:20]):  # one sitting: <session>-<frame>.jpg
            target = shop / name / f"2026120{c + 1}-090000-{i * 5:06d}.jpg"
            shutil.copy(photos / "images" / f"{row['image']}.jpg", target)
        for i in val:
            if rows[i]["label"] == name:
                shutil.copy(photos / "images" / f"{rows[i]['image']}.jpg", unseen / name)
    model = work / "shop.tflite"
    teach, classify = [], []
    for _ in range(runs):  # interleaved; a fresh feature cache each time: the first teach
        shutil.rmtree(work / "cache", ignore_errors=True)
        teach.append(timed(["teach", str(shop), "-o", str(model), *base], env)[0])
        classify.append(timed(["classify", str(shop), "--json", "--model", base[1]], env)[0])
    _, out = timed(["classify", str(unseen), "--json", "--model", str(model)], env)
    results = [json.loads(line) for line in out.splitlines()]
    right = sum(Path(r["path"]).parent.name == r["label"] for r in results)
    t, c = statistics.median(teach), statistics.median(classify)
    print(f"3 classes x 20 photos, one sitting each: {right}/{len(results)} = "
          f"{right / len(results):.2%} on unseen senders")  # fmt: skip
    print(f"  teach {t:.2f} s, classify {c:.2f} s over the same 60 photos: {t / c:.2f}x "
          f"(medians of {runs})")  # fmt: skip
    loose_photo_beside_each_sitting(photos, rows, train, shop, unseen, work, env, base)


def per_class_right(model: Path, unseen: Path, env: dict) -> dict[str, float]:
    _, out = timed(["classify", str(unseen), "--json", "--model", str(model)], env)
    results = [json.loads(line) for line in out.splitlines()]
    by_class: dict[str, list[bool]] = {}
    for r in results:
        by_class.setdefault(Path(r["path"]).parent.name, []).append(
            Path(r["path"]).parent.name == r["label"]
        )
    return {name: sum(v) / len(v) for name, v in by_class.items()}


def loose_photo_beside_each_sitting(photos, rows, train, shop, unseen, work, env, base, seeds=10):
    """One more photo of each class dropped in by hand beside its collected sitting (its own
    name, so its own group), over seeds: no class may lose more than a few points."""
    rng = random.Random(1)
    loose = work / "loose"
    shutil.copytree(shop, loose)
    for name in THREE:
        taken = {p.name for p in (shop / name).iterdir()}
        spare = [rows[i] for i in train if rows[i]["label"] == name]
        rng.shuffle(spare)
        row = next(r for r in spare if f"{r['image']}.jpg" not in taken)
        shutil.copy(photos / "images" / f"{row['image']}.jpg", loose / name / "IMG_0001.jpg")
    worst = dict.fromkeys(THREE, 0.0)
    print(f"  one photo dropped in by hand beside each sitting, seeds 0-{seeds - 1} (per-class "
          "right on unseen senders, without -> with):")  # fmt: skip
    for seed in range(seeds):
        rights = []
        for folder in (shop, loose):
            model = work / f"{folder.name}-{seed}.tflite"
            timed(["teach", str(folder), "-o", str(model), "--seed", str(seed), *base], env)
            rights.append(per_class_right(model, unseen, env))
        for name in THREE:
            worst[name] = min(worst[name], rights[1][name] - rights[0][name])
    print("  largest loss per class over the seeds: " + ", ".join(
        f"{name} {100 * d:+.1f} points" for name, d in worst.items()))  # fmt: skip


def ten_labels(photos: Path, work: Path, env: dict, base: list[str]) -> None:
    print("10 own labels, sender split seed 0 (the first run reads every photo's features):")
    print("  per class | val photos | float head | int8 | agreement | L2 | wall | peak RSS")
    for n in ("20", "50", "100", "all"):
        limit = [] if n == "all" else ["--per-class", n]
        out_model = work / f"ten_{n}.tflite"
        args = ["teach", str(photos), "--classes", TEN, *limit, "-o", str(out_model), *base]
        seconds, _ = timed(args, env)
        rss = peak_rss_mb(args, env)
        card = json.loads(out_model.with_suffix(".json").read_text())
        acc = card["accuracy"]
        l2 = card["quantization"]["head"].split("L2 ")[1].split(")")[0]
        print(f"  {n:>9} | {acc['images']:>10} | {acc['float_accuracy']:.2%} | "
              f"{acc['tflite_accuracy']:.2%} | {acc['agreement']:.2%} | {l2} | {seconds:.1f} s | "
              f"{rss:.0f} MB")  # fmt: skip


ALL_LABELS = (
    "T-Shirt,Pants,Longsleeve,Shoes,Shirt,Dress,Shorts,Outwear,Not sure,Hat,Skirt,Polo,"
    "Undershirt,Blazer,Hoodie,Body,Other,Top,Blouse,Skip"
)


@contextlib.contextmanager
def busy(processes: int):
    """`processes` children that each keep one core busy until the block ends."""
    spinners = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(processes)
    ]
    try:
        time.sleep(0.5)
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


def warm_all(photos: Path, work: Path, runs: int, env: dict, base: list[str]) -> None:
    out_model = work / "all.tflite"
    args = ["teach", str(photos), "--classes", ALL_LABELS, "-o", str(out_model), *base]
    timed(args, env)  # fills the cache
    print("warm-cache teach of every photo (20 labels), wall seconds:")
    for load in (0, 2):
        with busy(load):
            times = [timed(args, env)[0] for _ in range(runs)]
        print(f"  beside {load} busy processes: median {statistics.median(times):.1f} s "
              f"(min {min(times):.1f}, max {max(times):.1f}, {runs} runs)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=Path, default=ROOT.parent / "shared/data/clothing-photos")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", type=int, choices=(1, 2, 3), help="Run one part alone.")
    parser.add_argument(
        "--base", default="fast", help="the base to teach on: fast, accurate, a file"
    )
    args = parser.parse_args()
    base = ["--base", args.base]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        env = {**os.environ, "EDGECLF_CACHE": str(work / "cache")}
        if args.only in (None, 1):
            three_classes(args.photos, work, args.runs, env, base)
        if args.only in (None, 2):
            shutil.rmtree(work / "cache", ignore_errors=True)
            ten_labels(args.photos, work, env, base)
        if args.only in (None, 3):
            warm_all(args.photos, work, min(args.runs, 3), env, base)


if __name__ == "__main__":
    main()
