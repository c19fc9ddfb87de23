"""The on-disk cache of photos' features, one folder per base model, that can never hurt teaching.

A photo's features are keyed by the SHA-256 of its bytes, and kept as the int8 values the base's
graph gives them (exact, 2 x width bytes a photo) in 256 shards by the key's first byte: teaching
20 new photos beside 5,000 cached ones rewrites at most 20 small files, never the whole cache.

The cache is a convenience, never a reason to fail:
- a folder that cannot be made or written turns the cache off with one note;
- a shard of the wrong size (a tampered or cut file) is dropped, its photos read again, and the
  count said in one note; nothing in it is ever unpickled or decompressed;
- writes go to a temp file made with O_EXCL | O_NOFOLLOW and renamed over the shard, so a planted
  symlink is replaced, never followed; the folders are private (0700) and one owned by another
  user is not used;
- a shard is read only when one of its photos is asked for, and at most MAX_SHARD_BYTES of it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

import numpy as np

from ..cache import cache_dir

LAYOUT = "features-v2"
DIGEST = 32  # SHA-256 bytes at the start of each record
MAX_SHARD_BYTES = 32 * 2**20  # about 100,000 photos per shard at the small model's width


class FeatureCache:
    """int8 features of shape (2, width) by photo digest, for one base model."""

    def __init__(self, model_key: str, width: int, root: Path | None = None) -> None:
        self.folder = (root or cache_dir()) / LAYOUT / model_key
        self.record = np.dtype([("key", "u1", DIGEST), ("features", "i1", (2, width))])
        self.shards: dict[int, dict[bytes, np.ndarray]] = {}
        self.dirty: set[int] = set()
        self.dropped = 0  # records in shards that were damaged, read again from the photos
        self.off: str | None = None  # why the cache is not used, said once

    def get(self, digest: bytes) -> np.ndarray | None:
        return self._shard(digest[0]).get(digest)

    def put(self, digest: bytes, features: np.ndarray) -> None:
        self._shard(digest[0])[digest] = features
        self.dirty.add(digest[0])

    def _shard(self, number: int) -> dict[bytes, np.ndarray]:
        if number not in self.shards:
            self.shards[number] = self._load(number)
        return self.shards[number]

    def _load(self, number: int) -> dict[bytes, np.ndarray]:
        path = self.folder / f"{number:02x}.bin"
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:  # none yet, a symlink, or unreadable: read the photos
            return {}
        with os.fdopen(fd, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size % self.record.itemsize or size > MAX_SHARD_BYTES:
                self.dropped += 1
                self.dirty.add(number)  # rewritten whole from what is read again
                return {}
            records = np.frombuffer(f.read(size), self.record)
        return {bytes(r["key"]): r["features"].copy() for r in records}

    def save(self) -> str | None:
        """Write the shards that learned something; a one-line note where it could not."""
        if not self.dirty or self.off:
            return self.off
        try:
            self._private_folder()
            for number in sorted(self.dirty):
                self._write(number, self.shards.get(number, {}))
            self.dirty.clear()
        except OSError as exc:
            self.off = f"feature cache not saved ({self.folder}: {exc.strerror or exc}); teaching goes on without it"
        return self.off

    def _private_folder(self) -> None:
        """Make the folders 0700; refuse one that is a symlink or another user's."""
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        for folder in (self.folder.parent, self.folder):
            info = os.lstat(folder)
            if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
                raise OSError(0, "not a folder of its own (a symlink?)")
            if hasattr(os, "getuid") and info.st_uid != os.getuid():
                raise OSError(0, "owned by another user")
            if stat.S_IMODE(info.st_mode) & 0o077:
                os.chmod(folder, 0o700)

    def _write(self, number: int, entries: dict[bytes, np.ndarray]) -> None:
        records = np.zeros(len(entries), self.record)
        for i, (key, features) in enumerate(entries.items()):
            records[i] = (np.frombuffer(key, np.uint8), features)
        tmp = self.folder / f".tmp-{secrets.token_hex(6)}"
        flags = os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(tmp, flags, 0o600)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(records.tobytes())
            os.replace(tmp, self.folder / f"{number:02x}.bin")  # a symlink there is replaced
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink()

    def damaged_note(self) -> str | None:
        if not self.dropped:
            return None
        return (
            f"{self.dropped} damaged feature cache file(s) in {self.folder} were set aside; "
            "their photos were read again"
        )
