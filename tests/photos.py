"""Turn Fashion-MNIST test images into photo-like files: upscaled, dark-on-light, padded, coloured, JPEG."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

VARIANTS = ("png28", "upscaled", "inverted", "canvas", "colour_jpeg")


def make_variant(image: np.ndarray, variant: str, rng: np.random.Generator) -> np.ndarray:
    if variant == "png28":
        return image
    big = cv2.resize(image, (140, 140), interpolation=cv2.INTER_CUBIC)
    if variant == "upscaled":
        return big
    dark_on_light = 255 - big
    if variant == "inverted":
        return dark_on_light
    h, w = int(rng.integers(220, 400)), int(rng.integers(220, 400))
    canvas = np.full((h, w), int(rng.integers(215, 250)), np.uint8)
    y, x = int(rng.integers(0, h - 140)), int(rng.integers(0, w - 140))
    canvas[y : y + 140, x : x + 140] = np.minimum(canvas[y : y + 140, x : x + 140], dark_on_light)
    if variant == "canvas":
        return canvas
    tint = rng.uniform(0.6, 1.0, 3)
    bgr = cv2.cvtColor(canvas, cv2.COLOR_GRAY2BGR).astype(np.float32)
    garment = (canvas < canvas[0, 0] - 20)[..., None]
    return np.where(garment, bgr * tint, bgr).astype(np.uint8)


def write_variant(folder: Path, index: int, image: np.ndarray, variant: str, rng) -> Path:
    suffix = ".jpg" if variant == "colour_jpeg" else ".png"
    path = folder / variant / f"{index:05d}{suffix}"
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), make_variant(image, variant, rng))
    return path


def segment(marker: int, payload: bytes) -> bytes:
    """One JPEG segment: 0xFF, its marker, a big-endian length that counts itself, its payload."""
    return bytes((0xFF, marker)) + (len(payload) + 2).to_bytes(2, "big") + payload


def exif_with_thumbnail(thumbnail: bytes) -> bytes:
    """An APP1 Exif payload as cameras write it: IFD0 (orientation 1) and IFD1 pointing at a JPEG
    thumbnail, which has its own SOI, SOS and EOI markers."""
    ifd0 = (
        b"\x01\x00"
        + b"\x12\x01\x03\x00\x01\x00\x00\x00\x01\x00\x00\x00"
        + (26).to_bytes(4, "little")
    )
    ifd1_at, thumb_at = 26, 26 + 2 + 2 * 12 + 4
    ifd1 = b"\x02\x00"
    ifd1 += b"\x01\x02\x04\x00\x01\x00\x00\x00" + thumb_at.to_bytes(4, "little")
    ifd1 += b"\x02\x02\x04\x00\x01\x00\x00\x00" + len(thumbnail).to_bytes(4, "little")
    ifd1 += bytes(4)
    tiff = b"II*\x00" + (8).to_bytes(4, "little") + ifd0
    assert len(tiff) == ifd1_at
    return b"Exif\x00\x00" + tiff + ifd1 + thumbnail


def phone_jpeg(jpeg: bytes, *, thumbnail=True, icc=True, mpf=False, video=False) -> bytes:
    """A JPEG as a phone writes it: an Exif thumbnail and an ICC profile before the image, an MPF
    index with a second (depth or preview) image after it, and a motion photo's MP4 last."""
    assert jpeg[:2] == b"\xff\xd8"
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    small = cv2.imencode(".jpg", cv2.resize(image, (40, 30)), [cv2.IMWRITE_JPEG_QUALITY, 70])[1]
    head = b"\xff\xd8"
    if thumbnail:
        head += segment(0xE1, exif_with_thumbnail(small.tobytes()))
    if icc:
        head += segment(0xE2, b"ICC_PROFILE\x00\x01\x01" + bytes(range(256)) * 2)
    if mpf:
        head += segment(0xE2, b"MPF\x00" + b"II*\x00\x08\x00\x00\x00" + bytes(40))
    out = head + jpeg[2:]
    if mpf:
        out += cv2.imencode(".jpg", cv2.resize(image, (64, 48)))[1].tobytes()
    if video:
        out += b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40 + b"\xff\xd9"
    return out
