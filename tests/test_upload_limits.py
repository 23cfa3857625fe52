"""Uploads cost the server little memory: a huge PNG is refused from its header, a big JPEG is
decoded at a lower scale, every image is shrunk before float copies, and decodes are bounded.

A 130 KB PNG of 4096x4096 16-bit RGBA once cost 290-400 MB while it was processed.
"""

from __future__ import annotations

import io
import struct
import tracemalloc
import zlib

import numpy as np
import pytest
from PIL import Image

from aigc_core.experiments import own_digit


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def blank_png_16bit_rgba(side: int) -> bytes:
    """A valid `side` x `side` 16-bit RGBA PNG of zeros: 128 MiB of pixels in about 130 KB."""
    compressor = zlib.compressobj(9)
    row = b"\0" * (1 + side * 8)  # filter byte, then 8 bytes per pixel
    data = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, 16, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", data) + png_chunk(b"IEND", b"")


def jpeg_of_a_stroke(width: int, height: int) -> bytes:
    """A photo-sized JPEG: dark ink (a thick bar) on white paper."""
    picture = Image.new("RGB", (width, height), "white")
    picture.paste((0, 0, 0), (width // 2 - width // 20, height // 4, width // 2 + width // 20, 3 * height // 4))
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def test_a_huge_png_is_refused_from_its_header_before_decoding(monkeypatch):
    data = blank_png_16bit_rgba(4096)
    assert len(data) < 300_000
    assert Image.open(io.BytesIO(data)).size == (4096, 4096)  # a valid PNG, not a damaged one

    def no_decoding(self, *args, **kwargs):
        raise AssertionError("the pixels were decoded")

    monkeypatch.setattr(Image.Image, "load", no_decoding)
    monkeypatch.setattr("PIL.ImageFile.ImageFile.load", no_decoding)
    with pytest.raises(ValueError, match=r"^image: 4096x4096 pixels is too big for a PNG; at most 4,194,304 pixels"):
        own_digit.read_image_bytes(data)


def test_a_photo_sized_jpeg_is_decoded_small_and_still_read():
    data = jpeg_of_a_stroke(4000, 3000)
    tracemalloc.start()
    try:
        image = own_digit.read_image_bytes(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert max(image.shape) <= own_digit.WORK_SIDE and image.shape[0] * 4 == image.shape[1] * 3
    assert peak < 12 * 2**20  # a float32 copy at full size alone would be 46 MiB
    prepared = own_digit.prepare_upload(data)
    assert prepared.inverted and prepared.image.max() == pytest.approx(1.0, abs=0.05)


def test_a_large_png_within_the_limit_is_shrunk_before_float_copies():
    picture = Image.new("L", (2000, 2000), 255)
    picture.paste(0, (900, 400, 1100, 1600))
    buffer = io.BytesIO()
    picture.save(buffer, "PNG")
    tracemalloc.start()
    try:
        image = own_digit.read_image_bytes(buffer.getvalue())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert image.shape == (own_digit.WORK_SIDE, own_digit.WORK_SIDE)
    assert peak < 12 * 2**20  # 2000 x 2000 float32 would be 15 MiB
    assert image.min() == 0.0 and image.max() == 1.0


def test_decodes_at_once_are_bounded_and_the_next_one_is_refused_in_one_line(monkeypatch):
    monkeypatch.setattr(own_digit, "DECODE_WAIT_S", 0.05)
    picture = Image.fromarray(np.full((32, 32), 255, np.uint8))
    buffer = io.BytesIO()
    picture.save(buffer, "PNG")
    held = 0
    try:
        while own_digit._decoding.acquire(blocking=False):  # every slot taken, as by other uploads
            held += 1
        assert held == own_digit.MAX_CONCURRENT_DECODES
        with pytest.raises(ValueError, match=r"^image: the server is busy"):
            own_digit.read_image_bytes(buffer.getvalue())
    finally:
        for _ in range(held):
            own_digit._decoding.release()
    assert own_digit.read_image_bytes(buffer.getvalue()).shape == (32, 32)
