"""Read any image file into an 8-bit gray or BGR array, with one clear error per bad file; expand
the command line's files, folders (recursive) and glob patterns into image paths."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np

from . import MAX_PIXELS
from .errors import InputImageError
from .quiet import stderr_said

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


# Decoded as they are (alpha on white, 16 bits) up to this size. Larger ones, and formats whose
# size is not read from the header, decode straight to 8-bit colour (at 1/2, 1/4 or 1/8 scale
# where the size is known; a JPEG shrunk by libjpeg as it decodes), then shrink to this size: the
# models see 64x64 at most, and a 1 GB Pi must survive a 16-bit RGBA image under the pixel limit
# (1.3 GB decoded the old way).
FULL_DECODE_PIXELS = 8_000_000
MAX_TIFF_PIXELS = 24_000_000
# What is read, by magic number; anything else (HEIC, Radiance HDR, EXR...) is refused unread.
FORMATS = {
    b"\xff\xd8": "jpeg",
    b"\x89PNG\r\n\x1a\n": "png",
    b"BM": "bmp",
    b"II*\x00": "tiff",
    b"MM\x00*": "tiff",
    **{f"P{n}".encode(): "pnm" for n in range(1, 7)},
}


def image_format(data: bytes) -> str:
    """The format named by the file's first bytes, or a one-line refusal."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    for magic, name in FORMATS.items():
        if data.startswith(magic):
            return name
    if data[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftyphevc", b"ftypavif"):
        raise InputImageError("HEIC/AVIF is not read here: save the photo as JPEG")
    raise InputImageError("not an image (JPEG, PNG, WebP, BMP, TIFF or PNM)")


def decode_image(data: bytes) -> np.ndarray:
    """Decode image bytes (also used for uploads and frames) into uint8 BGR or gray.

    The header's size is checked before decoding: a 631-byte JPEG may claim 30000x30000 pixels.
    Large images decode to 8-bit colour and are shrunk to FULL_DECODE_PIXELS, so no input costs
    more than about 150 MB. Formats whose header is not read here are bounded by OpenCV itself
    (OPENCV_IO_MAX_IMAGE_PIXELS, set in `edgeclf.edge` before OpenCV is imported).
    """
    kind = image_format(data)
    declared = declared_size(data)
    pixels = None
    if declared:
        width, height, bytes_per_pixel = declared
        pixels = width * height
        if pixels > MAX_PIXELS:
            raise InputImageError(f"image too large ({pixels / 1e6:.0f} megapixels)")
        if pixels * bytes_per_pixel > MAX_DECODED_BYTES:
            raise InputImageError(
                f"image too large ({pixels * bytes_per_pixel / 2**20:.0f} MB decoded)"
            )
    if kind == "tiff" and (pixels is None or pixels > MAX_TIFF_PIXELS):
        size = "unknown size" if pixels is None else f"{pixels / 1e6:.0f} megapixels"
        raise InputImageError(
            f"TIFF of {size} is not read (OpenCV decodes TIFF at twice the memory): save it as JPEG"
        )
    if kind == "jpeg":
        data = jpeg_through_end(data)
    if pixels is not None and pixels <= FULL_DECODE_PIXELS:
        flags = cv2.IMREAD_UNCHANGED
    elif pixels:
        flags = reduced_flag(pixels)
    else:
        flags = cv2.IMREAD_COLOR
    try:
        if kind == "jpeg":  # libjpeg warns, on stderr, of data missing inside the file
            with stderr_said() as said:
                image = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
            if "premature end of data segment" in "".join(said).lower():
                raise InputImageError("corrupt JPEG (its image data ends early)")
        else:
            image = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
        if image is None or image.size == 0:
            raise InputImageError("not an image, or a corrupt/truncated one")
        return at_most(to_uint8(image), FULL_DECODE_PIXELS)
    except cv2.error:  # OpenCV refuses sizes over its own limit with an exception
        raise InputImageError("image too large, or a corrupt one") from None
    except MemoryError:  # a small machine, or a memory limit: this image, not the batch
        raise InputImageError("image too large for the memory available") from None


def jpeg_through_end(data: bytes) -> bytes:
    """A JPEG up to its end-of-image marker. Phones append data after it (a motion photo's MP4,
    an MPF second image, editors' trailers): that is not truncation. The main image's first scan
    is found by walking the segments by their lengths, so a thumbnail inside an APP1 Exif segment
    (which has scans and an end marker of its own) never ends the image. The marker cannot occur
    inside scan data (a 0xFF there is always followed by 0x00), so the first one after the main
    image's first scan is its end."""
    scan = next((at for marker, at, _ in jpeg_segments(data) if marker == 0xDA), -1)
    end = data.find(b"\xff\xd9", scan) if scan > 0 else -1
    if end < 0:
        raise InputImageError("truncated JPEG (no end-of-image marker)")
    return data[: end + 2]


def jpeg_segments(data: bytes) -> Iterator[tuple[int, int, int]]:
    """(marker, offset, length) of each segment from SOI to the first start of scan, walked by
    the segments' own lengths: APPn (Exif, ICC, XMP, MPF), COM, DQT, DHT, SOFn... Stops at the
    first SOS (yielded), or quietly where the structure breaks."""
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if 0xD0 <= marker <= 0xD8 or marker == 0x01:  # markers without a length
            i += 2
            continue
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        if length < 2:
            return
        yield marker, i, length
        if marker == 0xDA:
            return
        i += 2 + length


def reduced_flag(pixels: int) -> int:
    """The least reduction (1/2, 1/4 or 1/8) that brings the image within FULL_DECODE_PIXELS.

    libjpeg decodes at that scale for the cost of the smaller image. Other formats decode whole
    and then shrink, and still peak lower than a full-size colour decode: a 24 MP 16-bit PNG
    costs 91 MB over the process instead of 143 MB (OpenCV 5.1).
    """
    for scale, flag in (
        (2, cv2.IMREAD_REDUCED_COLOR_2),
        (4, cv2.IMREAD_REDUCED_COLOR_4),
        (8, cv2.IMREAD_REDUCED_COLOR_8),
    ):
        if pixels / scale**2 <= FULL_DECODE_PIXELS:
            return flag
    return cv2.IMREAD_REDUCED_COLOR_8


def at_most(image: np.ndarray, pixels: int) -> np.ndarray:
    """The image shrunk (area-averaged) to at most `pixels`, or as it is."""
    h, w = image.shape[:2]
    if h * w <= pixels:
        return image
    scale = (pixels / (h * w)) ** 0.5
    size = (max(1, int(w * scale)), max(1, int(h * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # colour type -> samples per pixel
JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def declared_size(data: bytes) -> tuple[int, int, int] | None:
    """(width, height, decoded bytes per pixel) from a PNG, JPEG, WebP or TIFF header, or None."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 26:
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        depth_bytes = 2 if data[24] == 16 else 1
        return width, height, PNG_CHANNELS.get(data[25], 4) * depth_bytes
    if data[:2] == b"\xff\xd8":
        return _jpeg_size(data)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _webp_size(data)
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return _tiff_size(data)
    return None


def _tiff_size(data: bytes) -> tuple[int, int, int] | None:
    """Width, height and bytes per pixel from a TIFF's first image directory."""
    order = "little" if data[:2] == b"II" else "big"

    def number(at: int, size: int) -> int:
        return int.from_bytes(data[at : at + size], order)

    ifd = number(4, 4)
    if ifd + 2 > len(data):
        return None
    tags = {}
    for i in range(min(number(ifd, 2), 256)):
        at = ifd + 2 + 12 * i
        if at + 12 > len(data):
            break
        tag, kind = number(at, 2), number(at + 2, 2)
        tags[tag] = number(at + 8, 2) if kind == 3 else number(at + 8, 4)  # SHORT or LONG
    if 256 not in tags or 257 not in tags:
        return None
    samples = tags.get(277, 1)
    bits = tags.get(258, 8) if samples == 1 else 16  # several samples: their bits live elsewhere
    return tags[256], tags[257], max(1, samples * bits // 8)


def _webp_size(data: bytes) -> tuple[int, int, int] | None:
    """A WebP's canvas from its first chunk: VP8X (extended), VP8L (lossless) or VP8 (lossy)."""
    chunk = data[12:16]
    if chunk == b"VP8X" and len(data) >= 30:
        width = 1 + int.from_bytes(data[24:27], "little")
        height = 1 + int.from_bytes(data[27:30], "little")
        return width, height, 4
    if chunk == b"VP8L" and len(data) >= 25:
        bits = int.from_bytes(data[21:25], "little")
        return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF), 4
    if chunk == b"VP8 " and len(data) >= 30:
        width = int.from_bytes(data[26:28], "little") & 0x3FFF
        height = int.from_bytes(data[28:30], "little") & 0x3FFF
        return width, height, 3
    return None


def _jpeg_size(data: bytes) -> tuple[int, int, int] | None:
    """The frame header (SOFn) of the main image: height, width and components."""
    for marker, i, _ in jpeg_segments(data):
        if marker in JPEG_SOF and i + 10 <= len(data):
            height = int.from_bytes(data[i + 5 : i + 7], "big")
            width = int.from_bytes(data[i + 7 : i + 9], "big")
            return width, height, max(1, data[i + 9])
    return None  # start of scan without a frame header, or a broken one: not ours to judge


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
