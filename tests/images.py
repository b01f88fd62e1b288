"""Image files for upload tests, made quickly."""

from __future__ import annotations

import struct
import zlib


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(width: int = 10_000, height: int = 10_000) -> bytes:
    """A valid PNG of ``width`` x ``height`` black pixels (one bit each) that compresses to a few
    kilobytes: a decompression bomb. Written by hand because Pillow takes seconds to encode
    100 million pixels; the bytes are what any encoder would produce for the same image."""
    row = b"\x00" + b"\x00" * ((width + 7) // 8)  # filter type 0, then the packed bits
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    pixels = zlib.compress(row * height, 9)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", pixels)
        + _chunk(b"IEND", b"")
    )
