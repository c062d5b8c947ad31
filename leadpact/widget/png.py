"""A tiny PNG writer (RGB, no dependencies) and the LeadPact logo drawn at any size.

amoCRM wants five logo files of exact sizes; drawing them from one function keeps them consistent.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable

Color = tuple[int, int, int]

BACKGROUND: Color = (31, 78, 121)
BAR_COLORS: tuple[Color, ...] = ((120, 170, 220), (240, 180, 60), (235, 90, 70))


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def encode_png(width: int, height: int, pixel: Callable[[int, int], Color]) -> bytes:
    """A truecolor PNG whose pixel at (x, y) is `pixel(x, y)`."""
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter: none
        for x in range(width):
            rows.extend(pixel(x, y))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + _chunk(b"IEND", b"")
    )


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's header; ValueError when it is not a PNG."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError("not a PNG file")
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def logo_png(width: int, height: int) -> bytes:
    """Three rising bars (cold → warm → hot) on LeadPact blue, centred and scaled to the smaller side."""
    side = min(width, height)
    bar_width = max(2, side // 7)
    gap = max(1, side // 14)
    total = 3 * bar_width + 2 * gap
    left = (width - total) // 2
    bottom = (height + int(side * 0.6)) // 2
    heights = (int(side * 0.3), int(side * 0.45), int(side * 0.6))

    def pixel(x: int, y: int) -> Color:
        for index, bar_height in enumerate(heights):
            start = left + index * (bar_width + gap)
            if start <= x < start + bar_width and bottom - bar_height <= y < bottom:
                return BAR_COLORS[index]
        return BACKGROUND

    return encode_png(width, height, pixel)
