"""What `edgeclf bench` was asked to measure, checked before any work starts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import EdgeclfError
from ..images import folder_files


@dataclass
class BenchOptions:
    data_dir: str | None = None
    limit: int | None = None
    threads: tuple[int, ...] = (1,)
    runs: int = 2000
    warmup: int = 100
    backend: str | None = None
    delegate: str | None = None
    seed: int = 0
    images: str | None = None  # labelled real photos instead of the Fashion-MNIST test split
    split: str = "all"  # with images: all, or the card's sender-disjoint val (or train) side
    no_garment: str | None = None  # frames with no garment: how often each threshold cries wolf

    @classmethod
    def for_command(cls, **settings) -> BenchOptions:
        opts = cls(**settings)
        if opts.split not in ("all", "val", "train"):
            raise EdgeclfError(f"--split takes all, val or train, not {opts.split!r}")
        if opts.split != "all" and not opts.images:
            raise EdgeclfError("--split needs --images")
        if opts.no_garment and not Path(opts.no_garment).is_dir():
            raise EdgeclfError(f"--no-garment {opts.no_garment}: not a folder")
        if opts.no_garment and not folder_files(Path(opts.no_garment))[0]:
            raise EdgeclfError(f"--no-garment {opts.no_garment}: no images in the folder")
        return opts
