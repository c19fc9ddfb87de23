"""Hostile and careless inputs: each answered in one line, with memory bounded and nothing written
outside the folder named."""

import json

import cv2
import numpy as np
import pytest

from edgeclf.edge.errors import InputImageError
from edgeclf.edge.images import FULL_DECODE_PIXELS, decode_image

from conftest import ROOT, run_cli

PHOTO = next((ROOT / "tests" / "fixtures" / "photos" / "images").glob("*.jpg"))


def test_a_large_16_bit_rgba_png_decodes_to_8_bit_colour_at_a_bounded_size():
    """4900x4900 16-bit RGBA is 192 MB decoded as it is (1.3 GB at peak the old way, with the
    alpha blend in float32); decoded straight to 8-bit colour and shrunk, it is 24 MB."""
    big = np.zeros((4900, 4900, 4), np.uint16)
    big[1000:3900, 1500:3400] = (20000, 30000, 40000, 65535)
    data = cv2.imencode(".png", big)[1].tobytes()
    assert len(data) < 1_000_000  # a small upload
    image = decode_image(data)
    assert image.dtype == np.uint8 and image.shape[2] == 3
    assert image.shape[0] * image.shape[1] <= FULL_DECODE_PIXELS
    assert image[image.shape[0] // 2, image.shape[1] // 2].tolist() == [78, 117, 156]


def test_a_large_jpeg_is_shrunk_by_libjpeg_as_it_decodes():
    photo = cv2.resize(cv2.imread(str(PHOTO)), (7000, 7000))
    image = decode_image(cv2.imencode(".jpg", photo)[1].tobytes())
    assert image.shape == (1750, 1750, 3)  # 1/4 scale: 3 MP, never the 49 MP


def test_a_motion_photo_classifies_like_the_jpeg_without_its_video():
    """Samsung and Pixel motion photos append an MP4 after the JPEG's end marker."""
    jpeg = PHOTO.read_bytes()
    video = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40 + b"\xff\xd9\xff\xd8"
    assert np.array_equal(decode_image(jpeg + video), decode_image(jpeg))
    with pytest.raises(InputImageError, match="truncated JPEG"):
        decode_image(jpeg[: len(jpeg) // 2])


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (
            b"\x00\x00\x00\x18ftypheic" + bytes(100),
            "HEIC/AVIF is not read here: save the photo as JPEG",
        ),
        (b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 7000 +X 7000\n", "not an image (JPEG, PNG"),
    ],
)
def test_formats_that_are_not_read_are_refused_unread(data, says):
    with pytest.raises(InputImageError, match=says.replace("(", r"\(").replace(")", r"\)")):
        decode_image(data)


def test_a_tiff_over_its_bound_is_refused_from_its_header():
    header = bytearray(b"II*\x00\x08\x00\x00\x00\x02\x00")  # two entries: width, height
    for tag in (256, 257):
        header += tag.to_bytes(2, "little") + (4).to_bytes(2, "little") + (1).to_bytes(4, "little")
        header += (6000).to_bytes(4, "little")
    with pytest.raises(InputImageError, match="TIFF of 36 megapixels is not read"):
        decode_image(bytes(header))


def test_the_cli_and_serve_answer_a_motion_photo(tmp_path):
    motion = tmp_path / "PXL_20261202_MP.jpg"
    motion.write_bytes(PHOTO.read_bytes() + b"\x00\x00\x00\x18ftypmp42" + bytes(5000))
    rows = [
        json.loads(line)
        for line in run_cli("classify", str(motion), str(PHOTO), "--json").stdout.splitlines()
    ]
    assert rows[0]["label"] == rows[1]["label"] and rows[0]["top_k"] == rows[1]["top_k"]
