"""Read any image file into an 8-bit gray or BGR array, with one clear error per bad file; expand
the command line's files, folders (recursive) and glob patterns into image paths."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np

from . import MAX_PIXELS
from .errors import InputImageError

MAX_FILE_BYTES = 64 * 1024 * 1024
# 200 MB of decoded pixels keeps a 16-bit RGBA PNG of MAX_PIXELS out.
MAX_DECODED_BYTES = 200 * 1024 * 1024
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".pgm", ".ppm", ".pbm"}


def read_image(path: Path) -> np.ndarray:
    """Decode `path` (colour, gray, 16-bit, alpha) into uint8 BGR or gray; alpha goes on white."""
    return decode_image(read_image_bytes(path))


def read_image_bytes(path: Path) -> bytes:
    """An image file's bytes, refused in one line when missing, empty, a folder or too large."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise InputImageError("file not found") from None
    except OSError as exc:
        raise InputImageError(f"cannot read: {exc.strerror}") from None
    if path.is_dir():
        raise InputImageError("is a directory")
    if size == 0:
        raise InputImageError("empty file")
    if size > MAX_FILE_BYTES:
        raise InputImageError(
            f"file too large ({size / 2**20:.0f} MB > {MAX_FILE_BYTES // 2**20} MB)"
        )
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputImageError(f"cannot read: {exc.strerror}") from None


def decode_image(data: bytes) -> np.ndarray:
    """Decode image bytes (also used for uploads and frames) into uint8 BGR or gray.

    The header's size is checked before decoding: a 631-byte JPEG may claim 30000x30000 pixels.
    Formats whose header is not read here are bounded by OpenCV itself (OPENCV_IO_MAX_IMAGE_PIXELS,
    set in `edgeclf.edge` before OpenCV is imported).
    """
    declared = declared_size(data)
    if declared:
        width, height, bytes_per_pixel = declared
        if width * height > MAX_PIXELS:
            raise InputImageError(f"image too large ({width * height / 1e6:.0f} megapixels)")
        if width * height * bytes_per_pixel > MAX_DECODED_BYTES:
            raise InputImageError(
                f"image too large ({width * height * bytes_per_pixel / 2**20:.0f} MB decoded)"
            )
    if data[:2] == b"\xff\xd8" and b"\xff\xd9" not in data[-64:]:
        raise InputImageError("truncated JPEG (no end-of-image marker)")
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error:  # OpenCV refuses sizes over its own limit with an exception
        raise InputImageError("image too large, or a corrupt one") from None
    if image is None or image.size == 0:
        raise InputImageError("not an image, or a corrupt/truncated one")
    return to_uint8(image)


PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # colour type -> samples per pixel
JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def declared_size(data: bytes) -> tuple[int, int, int] | None:
    """(width, height, decoded bytes per pixel) from a PNG or JPEG header, or None."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 26:
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        depth_bytes = 2 if data[24] == 16 else 1
        return width, height, PNG_CHANNELS.get(data[25], 4) * depth_bytes
    if data[:2] == b"\xff\xd8":
        return _jpeg_size(data)
    return None


def _jpeg_size(data: bytes) -> tuple[int, int, int] | None:
    """Walk the JPEG markers to the frame header (SOFn): height, width and components."""
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        if marker in JPEG_SOF:
            height = int.from_bytes(data[i + 5 : i + 7], "big")
            width = int.from_bytes(data[i + 7 : i + 9], "big")
            return width, height, max(1, data[i + 9])
        if marker == 0xDA:  # start of scan without a frame header: not ours to judge
            return None
        i += 2 + length
    return None


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Any depth and channel layout -> uint8 gray or BGR; transparent pixels become white."""
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype.kind == "f":
        peak = float(np.nanmax(image)) if image.size else 1.0
        scale = 255.0 if peak <= 1.0 else 1.0
        image = np.clip(np.nan_to_num(image) * scale, 0, 255).astype(np.uint8)
    elif image.dtype != np.uint8:
        image = cv2.normalize(image, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 3 and image.shape[2] == 4:
        alpha = image[:, :, 3:4].astype(np.float32) / 255.0
        white = np.full_like(image[:, :, :3], 255, dtype=np.float32)
        image = (image[:, :, :3] * alpha + white * (1.0 - alpha)).astype(np.uint8)
    return image


BLANK = "no garment found (the image is blank)"


def is_blank(image: np.ndarray) -> bool:
    """Too small to show anything, or a single flat colour: nothing to classify. One rule for
    `classify`, serve's uploads and the camera's region."""
    return min(image.shape[:2]) < 8 or int(image.max()) - int(image.min()) < 8


def is_image_path(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


# Files every file manager leaves behind: not worth a word when a folder is read.
SYSTEM_FILES = {"thumbs.db", "desktop.ini"}


def folder_files(folder: Path) -> tuple[list[Path], list[Path]]:
    """A folder's image files (recursive, sorted) and the other files it holds, hidden and system
    files aside: the others are skipped, and counted so that a user sees why."""
    images, others = [], []
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.name.startswith(".") or path.name.lower() in SYSTEM_FILES:
            continue
        (images if is_image_path(path) else others).append(path)
    return images, others


def skipped_note(others: Sequence[Path]) -> str | None:
    """One line on the non-image files a folder held, by kind; HEIC (iPhone photos) gets its fix."""
    if not others:
        return None
    kinds = Counter(p.suffix.lower() or "no extension" for p in others)
    parts = ", ".join(f"{count} {kind}" for kind, count in kinds.most_common(4))
    heic = kinds.get(".heic", 0) + kinds.get(".heif", 0)
    fix = (
        "; save HEIC photos as JPEG (most phones: Settings > Camera > Most Compatible)"
        if heic
        else ""
    )
    return f"skipped {len(others)} file(s) that are not images ({parts}){fix}"


class Inputs(NamedTuple):
    """What the command line named: (path, error) pairs in order, and the non-image files its
    folders held."""

    found: list[tuple[Path, str | None]]
    not_images: list[Path]


def expand_inputs(args: Iterable[str]) -> Inputs:
    """(path, error) pairs in command-line order; error says why an argument yielded nothing."""
    found: list[tuple[Path, str | None]] = []
    not_images: list[Path] = []
    for arg in args:
        path = Path(arg)
        if path.is_dir():
            images, others = folder_files(path)
            not_images += others
            found += [(p, None) for p in images] or [(path, "no images in folder")]
        elif any(ch in arg for ch in "*?[") and not path.exists():
            import glob  # only for patterns the shell did not expand

            matches = sorted(Path(m) for m in glob.glob(arg, recursive=True) if Path(m).is_file())
            found += [(p, None) for p in matches] or [(path, "no files match")]
        else:
            found.append((path, None))  # missing files are reported when read
    return Inputs(found, not_images)
