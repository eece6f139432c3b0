"""A submitted photo, checked before anything is stored: only JPEG, PNG or WebP that Pillow decodes in full, refused
before decoding when that would cost too much, cut at the image's own end (web/server.py's POST /api/corrections)."""
from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageMode, UnidentifiedImageError

from cropstyle.extractor.geometry import displayed_size
from cropstyle.web.limits import MAX_DECODED_BYTES, MAX_PHOTO_BYTES
from cropstyle.web.rejected import Rejected

FORMATS = {"JPEG": ("jpg", "image/jpeg"), "PNG": ("png", "image/png"), "WEBP": ("webp", "image/webp")}
EXTENSION_TYPES = {extension: media for extension, media in FORMATS.values()}


@dataclass(frozen=True)
class UploadedPhoto:
    data: bytes  # the image's own bytes: anything after its end cut off
    extension: str
    width: int  # displayed (orientation applied)
    height: int
    orientation: int


def decoded_bytes(width: int, height: int, mode: str) -> int:
    """What Pillow allocates to decode an image of this size and mode: width × height × bands × bytes per band
    (3 bands of 8 bits take 4 bytes in Pillow)."""
    described = ImageMode.getmode(mode)
    pixel = len(described.bands) * int(described.typestr[-1])
    return width * height * (4 if pixel == 3 else pixel)


def image_end(data: bytes, image_format: str) -> int:
    """Where the image ends in `data` (len(data) when that cannot be told): what follows, an HTML page or a
    ZIP archive glued on (a polyglot), is no part of the photo and is not stored."""
    if image_format == "PNG":  # chunks up to IEND: length, type, data, CRC
        position = 8
        while position + 12 <= len(data):
            length = int.from_bytes(data[position:position + 4], "big")
            kind = data[position + 4:position + 8]
            position += 12 + length
            if kind == b"IEND":
                return min(position, len(data))
        return len(data)
    if image_format == "WEBP":  # one RIFF chunk: "RIFF", its size, the rest
        size = int.from_bytes(data[4:8], "little")
        return min(len(data), 8 + size + (size & 1))
    if image_format == "JPEG":
        return _jpeg_end(data)
    return len(data)


def _jpeg_end(data: bytes) -> int:
    """After the EOI marker that ends the JPEG's scans: segments are skipped by their length, entropy-coded data
    by looking for the next marker (0xFF followed by neither 0x00, a byte stuffing, nor RST0-7)."""
    position = 2  # after SOI
    while position + 1 < len(data):
        if data[position] != 0xFF:
            return len(data)
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker == 0xD9:  # EOI
            return position + 2
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # standalone markers
            position += 2
            continue
        if position + 4 > len(data):
            return len(data)
        position += 2 + int.from_bytes(data[position + 2:position + 4], "big")
        if marker == 0xDA:  # start of scan: the entropy-coded data runs to the next marker
            while True:
                position = data.find(b"\xff", position)
                if position < 0 or position + 1 >= len(data):
                    return len(data)
                following = data[position + 1]
                if following == 0x00 or 0xD0 <= following <= 0xD7 or following == 0xFF:
                    position += 1 if following == 0xFF else 2
                    continue
                break
    return len(data)


def check_photo(data: bytes) -> UploadedPhoto:
    """Only real images: decoded in full by Pillow, refused before decoding when that would take more than
    MAX_DECODED_BYTES; anything after the image's end is cut off."""
    if not data:
        raise Rejected(400, "`photo` is empty")
    if len(data) > MAX_PHOTO_BYTES:
        raise Rejected(413, f"`photo` is larger than {MAX_PHOTO_BYTES // 2**20} MB")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if image.format not in FORMATS:
                    raise Rejected(415, f"`photo` must be JPEG, PNG or WebP, not {image.format}")
                width, height = image.size
                needed = decoded_bytes(width, height, image.mode)
                if needed > MAX_DECODED_BYTES:
                    raise Rejected(413, f"`photo` declares {width}×{height} {image.mode} pixels: decoding it would take "
                                        f"{needed / 2**20:.0f} MB, beyond the {MAX_DECODED_BYTES // 2**20} MB limit")
                orientation = image.getexif().get(0x0112, 1)
                image.load()  # decode every pixel: truncated or corrupt data fails here
                image_format = image.format
    except Rejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise Rejected(413, "`photo` declares too many pixels (decompression bomb)") from None
    except UnidentifiedImageError:
        raise Rejected(415, "`photo` is not an image Pillow can decode") from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise Rejected(415, f"`photo` could not be decoded: {error}") from None
    if orientation not in range(1, 9):
        orientation = 1
    width, height = displayed_size(width, height, orientation)
    return UploadedPhoto(data[:image_end(data, image_format)], FORMATS[image_format][0], width, height, orientation)
