"""Read any image file into an 8-bit gray or BGR array, with one clear error per bad file."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from .errors import InputImageError

MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_PIXELS = 64_000_000
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".pgm", ".ppm", ".pbm"}


def read_image(path: Path) -> np.ndarray:
    """Decode `path` (colour, gray, 16-bit, alpha) into uint8 BGR or gray; alpha goes on white."""
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
        data = path.read_bytes()
    except OSError as exc:
        raise InputImageError(f"cannot read: {exc.strerror}") from None
    return decode_image(data)


def decode_image(data: bytes) -> np.ndarray:
    """Decode image bytes (also used for uploads and frames) into uint8 BGR or gray."""
    header_size = _declared_pixels(data)
    if header_size and header_size > MAX_PIXELS:
        raise InputImageError(f"image too large ({header_size / 1e6:.0f} megapixels)")
    if data[:2] == b"\xff\xd8" and b"\xff\xd9" not in data[-64:]:
        raise InputImageError("truncated JPEG (no end-of-image marker)")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None or image.size == 0:
        raise InputImageError("not an image, or a corrupt/truncated one")
    return to_uint8(image)


def _declared_pixels(data: bytes) -> int | None:
    """Pixel count from a PNG header, to refuse decompression bombs before decoding."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return int.from_bytes(data[16:20], "big") * int.from_bytes(data[20:24], "big")
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


def is_image_path(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES
