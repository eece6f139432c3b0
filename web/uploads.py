"""A submission's photo and labels, checked before anything is stored (web/server.py's POST /api/corrections).

The photo: only JPEG, PNG or WebP that Pillow decodes in full, refused before decoding when that would cost too
much memory or time or when its data cannot fill the size it declares, cut at the image's own end. The labels
(`crop`, `predicted`): one flat JSON object of five finite numbers. The `suggestion` the user started from: one
flat JSON object {"aspect", "rank", "expected_iou"}.
"""

from __future__ import annotations

import io
import json
import math
import numbers
import re
import struct
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from PIL import Image, ImageMode, UnidentifiedImageError

from cropstyle.extractor.geometry import LABEL_VALUES, Crop, displayed_size
from cropstyle.web.limits import (
    MAX_DECODED_BYTES,
    MAX_JPEG_JUNK_BYTES,
    MAX_JPEG_SCAN_BLOCKS,
    MAX_JPEG_SCANS,
    MAX_JPEG_SEGMENTS,
    MAX_PHOTO_BYTES,
    MAX_PNG_CHUNKS,
)
from cropstyle.web.rejected import Rejected

FORMATS = {"JPEG": ("jpg", "image/jpeg"), "PNG": ("png", "image/png"), "WEBP": ("webp", "image/webp")}
EXTENSION_TYPES = {extension: media for extension, media in FORMATS.values()}

# What decoders allocate beyond Pillow's image (bench/web.py measures it, memory per format).
# libjpeg keeps the coefficients of the whole image (64 of 16 bits a block) for a JPEG of several scans (progressive).
JPEG_BLOCK_BYTES = 64 * 2
# Pillow decodes a WebP with libwebp's animation decoder: two canvases (the frame and the one before), the frame
# copied into bytes, then Pillow's image, 4 bytes a pixel each, and 1 more for the decoder's own rows or alpha
# plane; it also copies the file twice (Pillow's copy and the decoder's).
WEBP_BYTES_PER_PIXEL = 17
WEBP_FILE_COPIES = 2
# The JPEG frames (SOF markers) accepted: Huffman-coded, as browsers show them (not lossless, hierarchical or
# arithmetic-coded, where a bit a block is no lower bound either).
JPEG_FRAMES = {0xC0: "baseline", 0xC1: "extended sequential", 0xC2: "progressive"}


@dataclass(frozen=True)
class UploadedPhoto:
    data: bytes  # the image's own bytes: anything after its end cut off
    extension: str
    width: int  # displayed (orientation applied)
    height: int
    orientation: int


@dataclass(frozen=True)
class Preflight:
    """What a photo declares, read from its headers without decoding it."""

    image_format: str  # JPEG, PNG or WEBP
    width: int
    height: int
    mode: str  # Pillow's
    decoding_bytes: int  # what decoding it allocates: Pillow's image and the decoder's own buffers


def decoded_bytes(width: int, height: int, mode: str) -> int:
    """Pillow's image of this size and mode: 1, 2 or 4 bytes a pixel (several bands of 8 bits take 4: RGB, LA,
    CMYK alike)."""
    described = ImageMode.getmode(mode)
    return width * height * (4 if len(described.bands) > 1 else int(described.typestr[-1]))


# --- JPEG: its markers walked --------------------------------------------------------------------------------

# The marker that ends a scan's entropy-coded data: 0xFF followed by neither 0x00 (a byte stuffing), RST0-7
# (restart markers, inside the scan) nor 0xFF (fill bytes before a marker).
_SCAN_END = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
# What in a scan is no coded data: restart markers, and fill bytes before a marker (a 0xFF followed by another).
_NOT_SCAN_DATA = re.compile(rb"\xff[\xd0-\xd7]|\xff(?=\xff)")
_FILL = re.compile(rb"\xff+")


@dataclass(frozen=True)
class JpegScan:
    components: tuple[int, ...]  # component ids
    spectral_start: int  # 0: the scan codes its blocks' DC coefficients, each in one bit at least
    data_bytes: int  # its entropy-coded data: restart markers and fill bytes not counted


@dataclass
class JpegLayout:
    """A JPEG's frame and scans, read by walking its markers: nothing decoded."""

    frame: int = 0  # the SOF marker (0xC0 baseline, 0xC2 progressive, …); 0: none
    width: int = 0
    height: int = 0
    sampling: dict[int, tuple[int, int]] = field(default_factory=dict)  # component id → (horizontal, vertical)
    scans: list[JpegScan] = field(default_factory=list)
    end: int = 0  # after its EOI marker (len(data) when that cannot be told)
    segments: int = 0  # marker segments read, scans included
    junk_bytes: int = 0  # between segments: fill bytes and bytes that are no marker
    repeated_component: bool = False  # a component id given twice in the frame (libjpeg buffers each)

    def blocks(self, component: int, padded: bool = False) -> int:
        """The component's 8×8 blocks as libjpeg counts them; padded: to whole sampling units, as it buffers them."""
        horizontal, vertical = self.sampling[component]
        most_horizontal = max(h for h, _ in self.sampling.values())
        most_vertical = max(v for _, v in self.sampling.values())
        across = -(-self.width * horizontal // (8 * most_horizontal))
        down = -(-self.height * vertical // (8 * most_vertical))
        if padded:
            across, down = -(-across // horizontal) * horizontal, -(-down // vertical) * vertical
        return across * down

    def scan_blocks(self, scan: JpegScan) -> int:
        return sum(self.blocks(component) for component in scan.components if component in self.sampling)


def jpeg_layout(data: bytes, max_scans: int | None = None, max_segments: int | None = None) -> JpegLayout:
    """Walk the JPEG's segments (skipped by their length) and scans (their data runs to the next marker), up to
    EOI, as libjpeg reads them (bytes that are no marker skipped); stop after max_scans + 1 scans or max_segments
    + 1 segments (a JPEG of too many: no need to read them all)."""
    layout = JpegLayout(end=len(data))
    position = 2  # after SOI
    while position + 1 < len(data):
        if data[position] != 0xFF:  # junk between segments: libjpeg skips it (with a warning)
            found = data.find(b"\xff", position)
            layout.junk_bytes += (found if found >= 0 else len(data)) - position
            if found < 0:
                return layout
            position = found
            continue
        marker = data[position + 1]
        if marker == 0xFF:  # fill bytes, skipped at once (one at a time, a file of them would cost seconds)
            following = _FILL.match(data, position).end() - 1
            layout.junk_bytes += following - position
            position = following
            continue
        if marker == 0x00:  # an 0xFF in junk
            position += 2
            continue
        if marker == 0xD9:  # EOI
            layout.end = position + 2
            return layout
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # standalone markers
            position += 2
            continue
        if position + 4 > len(data):
            return layout
        length = int.from_bytes(data[position + 2 : position + 4], "big")
        segment = data[position + 4 : position + 2 + length]
        position += 2 + length
        layout.segments += 1
        if max_segments is not None and layout.segments > max_segments:
            return layout
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC) and not layout.frame and len(segment) >= 6:
            layout.frame = marker
            layout.height, layout.width = struct.unpack(">HH", segment[1:5])
            for offset in range(6, min(len(segment) - 2, 6 + 3 * segment[5]), 3):  # id, sampling factors, table
                factors = segment[offset + 1]
                layout.repeated_component |= segment[offset] in layout.sampling
                layout.sampling[segment[offset]] = (min(max(factors >> 4, 1), 4), min(max(factors & 15, 1), 4))
        elif marker == 0xDA and segment:
            count = segment[0]  # then (component id, tables) for each, then Ss, Se, Ah/Al
            spectral_start = segment[1 + 2 * count] if len(segment) > 1 + 2 * count else 0
            following = _SCAN_END.search(data, position)
            stop = following.start() if following else len(data)
            coded = stop - position - sum(len(m.group()) for m in _NOT_SCAN_DATA.finditer(data, position, stop))
            layout.scans.append(JpegScan(tuple(segment[1 : 1 + 2 * count : 2]), spectral_start, coded))
            position = stop
            if max_scans is not None and len(layout.scans) > max_scans:
                return layout
    return layout


def _jpeg_markers(data: bytes) -> JpegLayout:
    """The JPEG's layout, refused when reading it (Pillow reads its markers one by one) would take too long."""
    layout = jpeg_layout(data, MAX_JPEG_SCANS, MAX_JPEG_SEGMENTS)
    if len(layout.scans) > MAX_JPEG_SCANS:
        raise Rejected(413, f"`photo` is a JPEG of more than {MAX_JPEG_SCANS} scans: decoding it would take too long")
    if layout.segments > MAX_JPEG_SEGMENTS:
        raise Rejected(
            413, f"`photo` is a JPEG of more than {MAX_JPEG_SEGMENTS} segments: reading it would take too long"
        )
    if layout.junk_bytes > MAX_JPEG_JUNK_BYTES:
        raise Rejected(
            413,
            f"`photo` is a JPEG with {layout.junk_bytes} bytes of padding between its segments "
            f"(more than {MAX_JPEG_JUNK_BYTES}): reading it would take too long",
        )
    return layout


def _jpeg_preflight(layout: JpegLayout, mode: str) -> int:
    """Refuse a JPEG whose decoding takes too long (too many blocks in its scans: libjpeg decodes every block of
    every scan, one of a few bytes too) or that cannot be complete (less than a bit a block in a scan of DC
    coefficients: libjpeg fills what is missing with grey, and Pillow says nothing); return what decoding it
    allocates. Only libjpeg's own "premature end" warning would prove a JPEG complete, and Pillow does not pass it
    on: a bit a block is the least any coding of real pixels takes."""
    if not layout.frame:
        raise Rejected(415, "`photo` could not be decoded: its JPEG markers hold no frame header")
    if layout.repeated_component:
        raise Rejected(415, "`photo` is a JPEG that names one colour component twice")
    if layout.frame not in JPEG_FRAMES:
        raise Rejected(
            415,
            "`photo` is a lossless, hierarchical or arithmetic-coded JPEG: only baseline and "
            "progressive JPEG are accepted",
        )
    decoded = sum(layout.scan_blocks(scan) for scan in layout.scans)
    if decoded > MAX_JPEG_SCAN_BLOCKS:
        raise Rejected(
            413,
            f"`photo` is a JPEG whose {len(layout.scans)} scans decode {decoded} blocks of 8×8: "
            f"beyond the {MAX_JPEG_SCAN_BLOCKS} limit, decoding it would take too long",
        )
    for scan in layout.scans:
        blocks = layout.scan_blocks(scan)
        if scan.spectral_start == 0 and blocks > 8 * scan.data_bytes:
            raise Rejected(
                415,
                f"`photo` is incomplete: its {layout.width}×{layout.height} pixels are {blocks} "
                f"blocks of 8×8 in a scan of {scan.data_bytes} bytes (a bit per block at least)",
            )
    unscanned = set(layout.sampling) - {
        component for scan in layout.scans if scan.spectral_start == 0 for component in scan.components
    }
    if unscanned:
        raise Rejected(
            415, f"`photo` is incomplete: {len(unscanned)} of its {len(layout.sampling)} colour components have no scan"
        )
    coefficients = 0
    if layout.frame == 0xC2 or len(layout.scans) > 1:  # libjpeg buffers the whole image's coefficients
        coefficients = JPEG_BLOCK_BYTES * sum(layout.blocks(component, padded=True) for component in layout.sampling)
    return decoded_bytes(layout.width, layout.height, mode) + coefficients


# --- PNG: its chunks, its data inflated ----------------------------------------------------------------------

_PNG_SAMPLES = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # colour type → samples a pixel
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))


def _png_chunks(data: bytes) -> Iterator[tuple[bytes, int, int]]:
    """(type, start, end) of each chunk's data, up to IEND or the end of `data`."""
    position = 8
    while position + 12 <= len(data):
        length = int.from_bytes(data[position : position + 4], "big")
        kind = data[position + 4 : position + 8]
        yield kind, position + 8, min(position + 8 + length, len(data))
        if kind == b"IEND":
            return
        position += 12 + length


def _png_data_bytes(width: int, height: int, depth: int, color_type: int, interlaced: bool) -> int:
    """What the image data inflates to: each row (of each Adam7 pass) its filter byte and its packed samples."""
    bits = depth * _PNG_SAMPLES.get(color_type, 4)
    total = 0
    for x0, y0, dx, dy in _ADAM7 if interlaced else ((0, 0, 1, 1),):
        columns, rows = -(-(width - x0) // dx), -(-(height - y0) // dy)
        if columns > 0 and rows > 0:
            total += rows * (1 + -(-columns * bits // 8))
    return total


def _png_inflated_bytes(data: bytes, enough: int) -> int:
    """What the IDAT chunks inflate to, counted up to `enough` without keeping it (64 KB in, 1 MB out at a time)."""
    inflater = zlib.decompressobj()
    produced, view = 0, memoryview(data)
    for kind, start, end in _png_chunks(data):
        for offset in range(start, end, 2**16) if kind == b"IDAT" else ():
            piece = view[offset : min(offset + 2**16, end)]
            while piece and not inflater.eof:
                produced += len(inflater.decompress(piece, 2**20))
                if produced >= enough:
                    return produced
                piece = inflater.unconsumed_tail
    return produced + len(inflater.flush())


def _check_png_data(data: bytes) -> None:
    """Refuse a PNG whose data inflates to less than its size needs: Pillow's decoder stops where the zlib stream
    ends and leaves the missing rows empty, saying nothing."""
    width, height, depth, color_type, _, _, interlace = struct.unpack(">IIBBBBB", data[16:29])
    needed = _png_data_bytes(width, height, depth, color_type, interlace == 1)
    held = _png_inflated_bytes(data, needed)
    if held < needed:
        raise Rejected(
            415, f"`photo` is incomplete: its data holds {held} of the {needed} bytes its {width}×{height} pixels need"
        )


# --- WebP: its header -----------------------------------------------------------------------------------------


def _webp_size(data: bytes) -> tuple[int, int, str] | None:
    """Width, height and Pillow's mode from the first chunk (VP8X: the canvas; VP8L, VP8: the image)."""
    chunk = data[12:16]
    if chunk == b"VP8X" and len(data) >= 30:
        width, height = int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
        return width, height, "RGBA" if data[20] & 0x10 else "RGB"
    if chunk == b"VP8L" and len(data) >= 25 and data[20] == 0x2F:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, (bits >> 14 & 0x3FFF) + 1, "RGBA" if bits >> 28 & 1 else "RGB"
    if chunk == b"VP8 " and len(data) >= 30 and data[23:26] == b"\x9d\x01\x2a":
        return int.from_bytes(data[26:28], "little") & 0x3FFF, int.from_bytes(data[28:30], "little") & 0x3FFF, "RGB"
    return None


# --- The photo -------------------------------------------------------------------------------------------------


def sniffed_format(data: bytes) -> str | None:
    """JPEG, PNG or WEBP by the file's signature (as Pillow identifies them), None for anything else."""
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP" and data[12:16] in (b"VP8 ", b"VP8L", b"VP8X"):
        return "WEBP"
    return None


def preflight(data: bytes) -> Preflight:
    """Format, size, mode and what decoding will allocate, from the headers: a WebP is not even opened (Pillow's
    WebP decoder takes its canvases when it opens). Rejected: not JPEG, PNG or WebP; a JPEG refused from its
    markers (see _jpeg_preflight). Pillow's errors (an unreadable header) pass through."""
    image_format = sniffed_format(data)
    # Bounded before Pillow reads a header: it walks a JPEG's segments and a PNG's chunks one by one, in Python.
    layout = _jpeg_markers(data) if image_format == "JPEG" else None
    if image_format == "PNG" and sum(1 for _ in zip(range(MAX_PNG_CHUNKS + 1), _png_chunks(data))) > MAX_PNG_CHUNKS:
        raise Rejected(413, f"`photo` is a PNG of more than {MAX_PNG_CHUNKS} chunks: reading it would take too long")
    if image_format == "WEBP":
        size = _webp_size(data)
        if size is None:
            raise UnidentifiedImageError("no WebP header")
        width, height, mode = size
        return Preflight(
            "WEBP", width, height, mode, WEBP_BYTES_PER_PIXEL * width * height + WEBP_FILE_COPIES * len(data)
        )
    with Image.open(io.BytesIO(data), formats=[image_format] if image_format else None) as image:
        # A phone's JPEG with an MPF index (a gain map, a depth map) opens as MPO: its first image is the photo.
        opened = "JPEG" if image.format == "MPO" else image.format
        if opened not in FORMATS:
            raise Rejected(415, f"`photo` must be JPEG, PNG or WebP, not {image.format}")
        width, height, mode = *image.size, image.mode
    cost = _jpeg_preflight(layout, mode) if layout is not None else decoded_bytes(width, height, mode)
    return Preflight(opened, width, height, mode, cost)


def image_end(data: bytes, image_format: str) -> int:
    """Where the image ends in `data` (len(data) when that cannot be told): what follows, an HTML page or a
    ZIP archive glued on (a polyglot), is no part of the photo and is not stored."""
    if image_format == "PNG":  # chunks up to IEND: length, type, data, CRC
        for kind, _, end in _png_chunks(data):
            if kind == b"IEND":
                return min(end + 4, len(data))
        return len(data)
    if image_format == "WEBP":  # one RIFF chunk: "RIFF", its size, the rest
        size = int.from_bytes(data[4:8], "little")
        return min(len(data), 8 + size + (size & 1))
    if image_format == "JPEG":
        return jpeg_layout(data).end
    return len(data)


def exif_orientation(value: object) -> int:
    """EXIF Orientation, 1 to 8: a SHORT, or any number that is one of those (a RATIONAL 6/1 is 6, as Pillow and
    ExifTool read it); anything else (13/2, 6/0, 9, text, a list) is no orientation, 1."""
    if not isinstance(value, numbers.Real):
        return 1
    number = float(value)
    return int(number) if number.is_integer() and 1 <= number <= 8 else 1


def check_photo(data: bytes) -> UploadedPhoto:
    """Only real images: refused before decoding when that would take more than MAX_DECODED_BYTES (or a JPEG too
    long), or when the data cannot fill the size declared; decoded in full by Pillow; anything after the image's
    end is cut off."""
    if not data:
        raise Rejected(400, "`photo` is empty")
    if len(data) > MAX_PHOTO_BYTES:
        raise Rejected(413, f"`photo` is larger than {MAX_PHOTO_BYTES // 2**20} MB")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            declared = preflight(data)
            if declared.decoding_bytes > MAX_DECODED_BYTES:
                raise Rejected(
                    413,
                    f"`photo` declares {declared.width}×{declared.height} {declared.mode} pixels: "
                    f"decoding it would take {declared.decoding_bytes / 2**20:.0f} MB, beyond the "
                    f"{MAX_DECODED_BYTES // 2**20} MB limit",
                )
            if declared.image_format == "PNG":
                _check_png_data(data)
            with Image.open(io.BytesIO(data), formats=[declared.image_format, "MPO"]) as image:
                orientation = exif_orientation(image.getexif().get(0x0112, 1))
                image.load()  # decode every pixel: truncated or corrupt data fails here
    except Rejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise Rejected(413, "`photo` declares too many pixels (decompression bomb)") from None
    except UnidentifiedImageError:
        raise Rejected(415, "`photo` is not an image Pillow can decode") from None
    except (OSError, SyntaxError, ValueError, EOFError, zlib.error) as error:
        raise Rejected(415, f"`photo` could not be decoded: {error}") from None
    width, height = displayed_size(declared.width, declared.height, orientation)
    return UploadedPhoto(
        data[: image_end(data, declared.image_format)], FORMATS[declared.image_format][0], width, height, orientation
    )


def _finite_number(value) -> bool:
    """A JSON number a float holds: not a bool, not NaN or infinite, not an integer beyond float's range."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an integer of hundreds of digits
        return False


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a finite number")


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    keys = [key for key, _ in pairs]
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        raise ValueError(f"keys given more than once: {', '.join(repeated)}")
    return dict(pairs)


def _nesting(text: str) -> int:
    """How deep JSON text's objects and arrays go (brackets inside strings do not count)."""
    depth = deepest = 0
    in_string = escaped = False
    for character in text:
        if in_string:
            escaped, in_string = (False, True) if escaped else (character == "\\", character != '"')
        elif character == '"':
            in_string = True
        elif character in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif character in "]}":
            depth -= 1
    return deepest


def _flat_json(text: str, field: str, what: str) -> object:
    """The JSON value of a field that must be one flat object (`what`: "a label"), finite numbers and unique keys;
    a 400 otherwise."""
    if _nesting(text) > 1:  # before parsing: how deep a parser may go differs between Pythons
        raise Rejected(400, f"`{field}` is nested too deep: {what} is one flat object")
    try:
        return json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_unique_keys)
    except ValueError as error:
        raise Rejected(400, f"`{field}` is not valid JSON with finite numbers and unique keys: {error}") from None
    except RecursionError:  # arrays or objects nested thousands deep
        raise Rejected(400, f"`{field}` is nested too deep: {what} is one flat object") from None


def parse_label(text: str, field: str) -> Crop:
    """A label field: a JSON object with exactly left, top, right, bottom, angle, each once, each a finite number."""
    value = _flat_json(text, field, "a label")
    if not isinstance(value, dict):
        raise Rejected(400, f"`{field}` must be a JSON object with {', '.join(LABEL_VALUES)}")
    unknown = sorted(set(value) - set(LABEL_VALUES))
    missing = [k for k in LABEL_VALUES if k not in value]
    if unknown:
        raise Rejected(400, f"`{field}` has unknown keys: {', '.join(unknown)}")
    if missing:
        raise Rejected(400, f"`{field}` lacks {', '.join(missing)}")
    bad = [k for k in LABEL_VALUES if not _finite_number(value[k])]
    if bad:
        raise Rejected(422, f"`{field}`: {', '.join(bad)} must be finite numbers")
    return Crop(*(float(value[k]) for k in LABEL_VALUES))


SUGGESTION_KEYS = ("aspect", "rank", "expected_iou")
MAX_RANK = 3  # the page offers up to three alternatives per aspect ratio
# W:H as the page names its presets: plain ASCII decimals, no sign, exponent, spaces or other digits (which float()
# would take too).
_ASPECT = re.compile(r"([0-9]+(?:\.[0-9]+)?|\.[0-9]+):([0-9]+(?:\.[0-9]+)?|\.[0-9]+)")


def _shown(value: object) -> str:
    """A JSON value as the client sent it, for a message: one line, at most 40 characters."""
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:39] + "…"


def _key_names(keys: list[str]) -> str:
    """The client's key names for a message, one line: odd ones quoted and cut, at most five."""
    shown = [key if key.isidentifier() and len(key) <= 40 else _shown(key) for key in keys[:5]]
    return ", ".join(shown) + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")


def _aspect_ok(value: object) -> bool:
    """Whether `value` is "free" or W:H, W and H positive finite numbers (as export.predict.parse_aspect reads
    --aspect; not imported from there: that module loads the inference code)."""
    if value == "free":
        return True
    match = _ASPECT.fullmatch(value) if isinstance(value, str) else None
    return match is not None and all(0 < float(side) < math.inf for side in match.groups())


def parse_suggestion(text: str) -> dict:
    """The `suggestion` field: which suggestion the correction started from, exactly {"aspect": "free" or "W:H",
    "rank": 1 to 3 (1 for "free"), "expected_iou": a number from 0 to 1 or null}. Returned with those keys, in
    that order; malformed JSON is a 400, a well-formed object with a wrong key or value a 422."""
    value = _flat_json(text, "suggestion", "a suggestion")
    if not isinstance(value, dict):
        raise Rejected(
            422, f"`suggestion` must be a JSON object with {', '.join(SUGGESTION_KEYS)}, not {_shown(value)}"
        )
    unknown = sorted(set(value) - set(SUGGESTION_KEYS))
    missing = [k for k in SUGGESTION_KEYS if k not in value]
    if unknown:
        raise Rejected(422, f"`suggestion` has unknown keys: {_key_names(unknown)}")
    if missing:
        raise Rejected(422, f"`suggestion` lacks {', '.join(missing)}")
    aspect, rank, expected = (value[k] for k in SUGGESTION_KEYS)
    if not _aspect_ok(aspect):
        raise Rejected(
            422,
            f'`suggestion.aspect` must be "free" or W:H with positive numbers (e.g. 4:5, 1.91:1), not {_shown(aspect)}',
        )
    # An integer, not 2.0 or true: JSON.stringify writes a whole number without a fraction.
    if isinstance(rank, bool) or not isinstance(rank, int) or not 1 <= rank <= MAX_RANK:
        raise Rejected(422, f"`suggestion.rank` must be an integer from 1 to {MAX_RANK}, not {_shown(rank)}")
    if aspect == "free" and rank != 1:  # without an aspect there is one suggestion, the model's own
        raise Rejected(422, f'`suggestion.rank` must be 1 for the aspect "free", not {rank}')
    if expected is not None and not (_finite_number(expected) and 0 <= expected <= 1):
        raise Rejected(422, f"`suggestion.expected_iou` must be a number from 0 to 1 or null, not {_shown(expected)}")
    return {"aspect": aspect, "rank": rank, "expected_iou": None if expected is None else float(expected)}
