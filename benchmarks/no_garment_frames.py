"""Frames with no garment, cut from the clothing photos: the floor, bed or table beside each garment.

    python benchmarks/no_garment_frames.py ../shared/data/clothing-photos runs/no-garment

Writes OUT/ in the labels.csv layout: every original photo (linked, not copied) plus one square
crop per photo from the widest strip beside the garment's box, labelled "Background" with the
photo's own sender. Training on it with `--background-class Background` keeps the sender split
honest: a room's empty floor never lands on both sides. OUT/val-frames/ holds the validation
senders' crops for `bench --no-garment` (the split of seed 0 and 15 %, as the card records it).
"""

from __future__ import annotations

import argparse
import csv
import os
from pathlib import Path

import cv2
import numpy as np

from edgeclf.edge.datasets.photoset import group_split
from edgeclf.edge.recipes.photo import MIN_CONTRAST, border_colour, garment_box

LABEL = "Background"
MIN_SIDE = 48  # pixels: smaller strips are too little floor to call a frame
PLAIN = 0.8  # share of a crop's pixels that must match the photo's border: floor, not a sleeve


def empty_square(image: np.ndarray) -> np.ndarray | None:
    """The largest square beside the garment's box (left, right, above or below), if it looks like
    the photo's border: where the box missed part of the garment, the strip holds a sleeve."""
    h, w = image.shape[:2]
    x, y, bw, bh = garment_box(image)
    if bw * bh >= 0.95 * w * h:  # no box found: no sure-empty strip
        return None
    strips = [(0, 0, x, h), (x + bw, 0, w - x - bw, h), (0, 0, w, y), (0, y + bh, w, h - y - bh)]
    sx, sy, sw, sh = max(strips, key=lambda s: min(s[2], s[3]))
    side = min(sw, sh)
    if side < MIN_SIDE:
        return None
    cx, cy = sx + (sw - side) // 2, sy + (sh - side) // 2
    crop = image[cy : cy + side, cx : cx + side]
    distance = np.abs(crop.astype(np.int16) - border_colour(image).astype(np.int16)).max(axis=2)
    return crop if (distance <= MIN_CONTRAST).mean() >= PLAIN else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--val-fraction", type=float, default=0.15)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with (args.photos / "labels.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    senders = np.array([row["sender_id"] for row in rows])
    _, val_idx = group_split(senders, args.val_fraction, args.seed)
    val_senders = set(senders[val_idx].tolist())
    images, frames = args.out / "images", args.out / "val-frames"
    images.mkdir(parents=True, exist_ok=False)
    frames.mkdir()
    out_rows, cut = [], 0
    for row in rows:
        source = args.photos / "images" / f"{row['image']}.jpg"
        os.symlink(source.resolve(), images / source.name)
        out_rows.append(row)
        image = cv2.imread(str(source))
        crop = None if image is None else empty_square(image)
        if crop is None:
            continue
        name = f"empty-{row['image']}"
        cv2.imwrite(str(images / f"{name}.jpg"), crop)
        out_rows.append({**row, "image": name, "label": LABEL})
        if row["sender_id"] in val_senders:
            cv2.imwrite(str(frames / f"{name}.jpg"), crop)
        cut += 1
    with (args.out / "labels.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(out_rows)
    print(
        f"{cut:,} no-garment frames from {len(rows):,} photos ({len(list(frames.iterdir()))} val)"
    )


if __name__ == "__main__":
    main()
