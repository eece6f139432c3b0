"""darktable's crops: reading them from a darktable XMP sidecar and writing one darktable applies.

darktable keeps a photo's edits in `NAME.EXT.xmp`, namespace `darktable` = `http://darktable.sf.net/`. Sources
read (darktable-org/darktable, current and older revisions, not the 4.2 tag itself): `src/common/exif.cc`
(`dt_exif_xmp_read`, `dt_exif_xmp_encode_internal`, `dt_exif_xmp_decode`), `src/common/iop_order.c`,
`src/iop/crop.c`, `src/iop/clipping.c`, `src/iop/flip.c`; every fact below that matters was then checked
against Debian's darktable 4.2.1 itself (its plug-ins, its exports, the sidecars it writes):

- `darktable:history`, an `rdf:Seq` of entries (attributes, or child elements as exiftool writes them):
  `num`, `operation` (the module), `enabled`, `modversion`, `params`, `multi_name`, `multi_priority`,
  `blendop_version`, `blendop_params`;
- `darktable:history_end`: only entries with `num < history_end` are applied (the rest were undone; a missing
  value means all); for each module instance (`operation`, `multi_priority`) the last applied entry wins;
- `darktable:iop_order_version` (0 custom, with `darktable:iop_order_list` = "op,instance,op,instance,…";
  1 legacy; 2 v3.0; 3 v3.0 JPEG: `src/common/iop_order.c`), which fixes the pipeline order, not the history;
- `darktable:auto_presets_applied`: 0 makes darktable add its default modules (flip, and a raw's defaults)
  when it loads the sidecar.

**Parameters** are the module's C struct, little-endian, as hex (`dt_exif_xmp_encode_internal`), or, when
compressed (`compress_xmp_tags`: by default for blobs over 100 bytes), `gz` + a two-digit compression factor +
base64 of the zlib stream (`dt_exif_xmp_decode`). The layouts and versions below are the ones darktable 4.2.1's
own plug-ins report (their `get_introspection()`: `libcrop.so`, `libclipping.so`, `libflip.so`, `liblens.so`):

- `crop`, version 1, 24 bytes (`src/iop/crop.c`): `float cx, cy, cw, ch; int ratio_n, ratio_d` — the crop's
  left, top, **right** and **bottom** edges as fractions of the module's input frame. darktable clamps cx, cy to
  [0, 0.9] and cw, ch to [0.1, 1]. The ratio is a GUI setting: 4.2 exports ignore it (checked with ratios 3:2,
  2:3, 1:1, "original", free and unset on the same box). Version 2 (later darktables: `gboolean aligned`
  appended, and exports that honour the ratio) is not read.
- `clipping` ("crop and rotate", deprecated in the GUI but still applied by 4.2), version 5, 84 bytes
  (`src/iop/clipping.c`): `float angle, cx, cy, cw, ch, k_h, k_v, kxa, kya, kxb, kyb, kxc, kyc, kxd, kyd;
  int k_type, k_sym, k_apply, crop_auto, ratio_n, ratio_d`. The module turns its input by `angle` degrees about
  the centre — positive turns the *content* clockwise, so the crop box turns counter-clockwise: cropstyle's
  angle is −angle — and then cuts cx..cw × cy..ch out of a frame that depends on `crop_auto`
  (`modify_roi_out`): 0, the bounding box of the turned image; 1, the largest box of the input's shape (or its
  transpose, whichever is larger) that the turned image, scaled, fits in, centred. A negative cw or ch mirrors
  the image, `k_apply` or an old-style `k_h`/`k_v` adds a keystone: neither is read.
- `flip` ("orientation"), version 2: `int orientation`, −1 (or no flip entry at all) meaning the file's EXIF
  orientation, otherwise an absolute orientation of the stored pixels, in darktable's bits (`dt_image_orientation_t`:
  1 flips y, 2 flips x, 4 swaps the axes), which map to EXIF as 0→1, 1→4, 2→2, 3→3, 4→5, 5→6, 6→8, 7→7
  (checked with exports, and darktable's own flip presets: "flip horizontally" 2, "flip vertically" 1,
  "rotate by -90 degrees" 5, "rotate by 90 degrees" 6). A disabled flip shows the stored pixels.

**Frames.** In every built-in order (and darktable's default history) `flip` runs before `clipping` and `crop`,
so their fractions are of the photo as darktable displays it: with an automatic flip, exactly cropstyle's
displayed frame (EXIF orientation applied). Checked by exporting JPEGs stored with EXIF orientations 1, 3, 6
and 8 through `darktable-cli` (tests/test_darktable.py; darktable's own flip of such photos loses a row or
column, so its exports fall 1–2 px short at the far corners, at any photo size). For a raw, darktable's frame is
what `rawprepare` keeps of the sensor, which may differ by a few pixels from the size cropstyle reads from the
file's headers: the fractions carry over. A flip set in darktable (or disabled) puts the crop in
another frame, mapped through the stored frame with geometry.py when the caller gives the EXIF orientation.
Modules that change the geometry before the crop in the pipeline order (`ashift`, `liquify`, `rotatepixels`,
`scalepixels`, `enlargecanvas`; `lens` unless it is a 4.2 (v6) correction of vignetting and chromatic aberration
only, at scale 1; both a `crop` and a `clipping`, or two instances) make the crop's frame one cropstyle cannot
map: reading and writing refuse such photos (`DarktableError`, a one-line reason).

**Writing** appends one history entry darktable 4.2 applies: `crop` v1 for a crop without angle, `clipping` v5
(crop_auto 0, no keystone) for a turned one, plus an entry that switches the other module off if it was on. The
entry goes at `history_end` (undone entries after it are renumbered, with their masks' `mask_num`), and
`history_end` grows to include it. A new sidecar is minimal: our entry, `auto_presets_applied="0"` so that
darktable adds its defaults, `iop_order_version="2"`.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import struct
import zlib
from dataclasses import dataclass
from xml.etree import ElementTree as ET

from cropstyle.extractor.geometry import (
    Crop,
    RotatedRect,
    crop_problem,
    crop_to_rect,
    displayed_size,
    rect_to_crop,
    to_displayed,
    to_stored,
)

NAMESPACE = "http://darktable.sf.net/"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XMP_MM = "http://ns.adobe.com/xap/1.0/mm/"
_DT = "{" + NAMESPACE + "}"
_RDF = "{" + RDF + "}"

CROP_VERSION = 1  # darktable 4.2's crop module
CLIPPING_VERSION = 5  # darktable 4.2's (deprecated) crop and rotate module
FLIP_VERSION = 2
LENS_VERSION = 6
_CROP_FORMAT = "<4f2i"  # cx, cy, cw, ch, ratio_n, ratio_d
# angle, cx, cy, cw, ch, k_h, k_v, kxa, kya, kxb, kyb, kxc, kyc, kxd, kyd;
# k_type, k_sym, k_apply, crop_auto, ratio_n, ratio_d
_CLIPPING_FORMAT = "<15f6i"
_FLIP_FORMAT = "<i"
# darktable 4.2's default blend parameters (blendop_version 11), as it writes them for a module without a mask.
_BLENDOP_VERSION = 11
_BLENDOP_PARAMS = "gz14eJxjYIAACQYYOOHEgAZY0QVwggZ7CB6pfNoAAE8gGQg="
_COMPRESS_THRESHOLD = 100  # darktable compresses blobs larger than this ("only large entries")
_MAX_PARAMS = 1 << 20  # no darktable module's parameters come near this: stop inflating there

# darktable's flip orientation (dt_image_orientation_t bits) → the EXIF orientation it shows the stored pixels with.
_FLIP_TO_EXIF = {0: 1, 1: 4, 2: 2, 3: 3, 4: 5, 5: 6, 6: 8, 7: 7}
_AUTO_FLIP = -1  # ORIENTATION_NULL: the file's own orientation

CROP_MODULES = ("crop", "clipping")
# Modules that move pixels or change the frame, with darktable's names for them.
_GEOMETRY_MODULES = {
    "ashift": "rotate and perspective",
    "lens": "lens correction",
    "liquify": "liquify",
    "rotatepixels": "rotate pixels",
    "scalepixels": "scale pixels",
    "enlargecanvas": "enlarge canvas",
    "clipping": "crop and rotate",
    "crop": "crop",
}
# Their pipeline order in darktable's built-in module orders (iop_order.c): legacy, and v3.0 (raw and JPEG alike).
_LEGACY_ORDER = ("lens", "ashift", "liquify", "rotatepixels", "scalepixels", "flip", "clipping", "crop")
_V30_ORDER = ("rotatepixels", "scalepixels", "lens", "ashift", "flip", "enlargecanvas", "clipping", "liquify", "crop")
_LENS_GEOMETRY_FLAGS = 0x08 | 0x10 | 0x20  # lensfun's LF_MODIFY_DISTORTION, _GEOMETRY, _SCALE


class DarktableError(ValueError):
    """A darktable sidecar cropstyle cannot read or write a crop in; the message is a one-line reason."""


# --- parameters ----------------------------------------------------------------------------------------------------


def decode_params(text: str, what: str = "darktable") -> bytes:
    """darktable's encoding of a parameter blob: hex, or "gz" + two digits + base64 of a zlib stream."""
    text = text.strip()
    if text.startswith("gz"):
        if len(text) < 4 or not text[2:4].isdigit():
            raise DarktableError(f"{what} parameters: compressed data lacks its compression factor")
        try:
            packed = base64.b64decode(text[4:], validate=True)
        except (binascii.Error, ValueError):
            raise DarktableError(f"{what} parameters: compressed data is not base64") from None
        inflater = zlib.decompressobj()
        try:
            data = inflater.decompress(packed, _MAX_PARAMS)
        except zlib.error as error:
            raise DarktableError(f"{what} parameters: compressed data does not inflate ({error})") from None
        if not inflater.eof:
            raise DarktableError(f"{what} parameters: compressed data does not inflate (truncated or too large)")
        return data
    if len(text) % 2 or not re.fullmatch(r"[0-9a-fA-F]*", text):
        raise DarktableError(f"{what} parameters are neither hex nor gz-compressed")
    return bytes.fromhex(text)


def encode_params(data: bytes, compress: bool | None = None) -> str:
    """The inverse, as darktable writes it: compressed when `compress`, or by default when over 100 bytes."""
    if compress is None:
        compress = len(data) > _COMPRESS_THRESHOLD
    if not compress:
        return data.hex()
    packed = zlib.compress(data)
    return f"gz{min(len(data) // len(packed) + 1, 99):02d}" + base64.b64encode(packed).decode("ascii")


@dataclass(frozen=True)
class CropParams:
    """dt_iop_crop_params_t, version 1."""

    cx: float
    cy: float
    cw: float
    ch: float
    ratio_n: int = 0
    ratio_d: int = 0

    def pack(self) -> bytes:
        return struct.pack(_CROP_FORMAT, self.cx, self.cy, self.cw, self.ch, self.ratio_n, self.ratio_d)

    @classmethod
    def unpack(cls, data: bytes) -> CropParams:
        return cls(*struct.unpack(_CROP_FORMAT, data))


@dataclass(frozen=True)
class ClippingParams:
    """dt_iop_clipping_params_t, version 5 (keystone points at darktable's defaults)."""

    angle: float
    cx: float
    cy: float
    cw: float
    ch: float
    k_h: float = 0.0
    k_v: float = 0.0
    kxa: float = 0.2
    kya: float = 0.2
    kxb: float = 0.8
    kyb: float = 0.2
    kxc: float = 0.8
    kyc: float = 0.8
    kxd: float = 0.2
    kyd: float = 0.8
    k_type: int = 0
    k_sym: int = 0
    k_apply: int = 0
    crop_auto: int = 0
    ratio_n: int = 0
    ratio_d: int = 0

    def pack(self) -> bytes:
        return struct.pack(_CLIPPING_FORMAT, *(getattr(self, name) for name in self.__dataclass_fields__))

    @classmethod
    def unpack(cls, data: bytes) -> ClippingParams:
        return cls(*struct.unpack(_CLIPPING_FORMAT, data))


_LAYOUTS = {
    "crop": (CROP_VERSION, struct.calcsize(_CROP_FORMAT)),
    "clipping": (CLIPPING_VERSION, struct.calcsize(_CLIPPING_FORMAT)),
    "flip": (FLIP_VERSION, struct.calcsize(_FLIP_FORMAT)),
    "lens": (LENS_VERSION, 316),
}


# --- the XMP document ------------------------------------------------------------------------------------------------


@dataclass
class _Entry:
    """One darktable:history item."""

    element: ET.Element  # its rdf:li
    num: int
    operation: str
    enabled: bool
    modversion: int | None
    params: str
    multi_priority: int

    @property
    def instance(self) -> tuple[str, int]:
        return self.operation, self.multi_priority

    def blob(self) -> bytes:
        """The parameters, checked against the one layout cropstyle knows for this module."""
        version, size = _LAYOUTS[self.operation]
        if self.modversion is None:
            raise DarktableError(f"darktable {self.operation} module entry has no modversion")
        if self.modversion > version:
            raise DarktableError(
                f"darktable {self.operation} module version {self.modversion} is newer than cropstyle reads ({version})"
            )
        if self.modversion < version:
            raise DarktableError(
                f"darktable {self.operation} module version {self.modversion} is older than cropstyle reads ({version})"
            )
        data = decode_params(self.params, f"darktable {self.operation}")
        if len(data) != size:
            raise DarktableError(
                f"darktable {self.operation} module version {self.modversion} parameters are "
                f"{len(data)} bytes, not {size}"
            )
        return data


class _TreeBuilder(ET.TreeBuilder):
    """Keeps comments and processing instructions, and the prefixes the document gave its namespaces."""

    def __init__(self) -> None:
        super().__init__(insert_comments=True, insert_pis=True)
        self.prefixes: dict[str, str] = {}  # uri → prefix (the first one declared)

    def start_ns(self, prefix: str, uri: str) -> None:
        self.prefixes.setdefault(uri, prefix)


class _Document:
    """An XMP packet: text before and after its root element, kept as it was, and the root as a tree."""

    def __init__(self, xmp: str | bytes):
        text = _text(xmp)
        if re.search(r"<!(DOCTYPE|ENTITY)", text):
            raise DarktableError("darktable sidecar declares a DOCTYPE or entities, which XMP never does")
        builder = _TreeBuilder()
        parser = ET.XMLParser(target=builder)
        try:
            parser.feed(text)
            self.root = parser.close()
        except ET.ParseError as error:
            raise DarktableError(f"darktable sidecar is not well-formed XML ({error})") from None
        self.prefixes = builder.prefixes
        start = re.search(r"<(?![?!])", text)
        name = re.match(r"<([^\s/>]+)", text[start.start() :]).group(1)
        end = text.rfind(f"</{name}>")
        end = end + len(f"</{name}>") if end >= 0 else text.rfind("/>") + 2  # an empty root: <x:xmpmeta .../>
        self.head, self.tail = text[: start.start()], text[end:]

    def descriptions(self) -> list[ET.Element]:
        return list(self.root.iter(_RDF + "Description"))

    def property(self, name: str) -> str | None:
        """A darktable property of the packet (an attribute or a simple element of any rdf:Description)."""
        for description in self.descriptions():
            if _DT + name in description.attrib:
                return description.attrib[_DT + name]
            child = description.find(_DT + name)
            if child is not None and len(child) == 0:
                return (child.text or "").strip()
        return None

    def set_property(self, description: ET.Element, name: str, value: str) -> None:
        for candidate in self.descriptions():
            child = candidate.find(_DT + name)
            if child is not None and len(child) == 0:
                child.text = value
                return
            if _DT + name in candidate.attrib:
                candidate.set(_DT + name, value)
                return
        description.set(_DT + name, value)

    def serialize(self) -> str:
        prefixes = dict(self.prefixes)
        used: dict[str, str] = {}

        def qname(tag: str) -> str:
            if not tag.startswith("{"):
                return tag
            uri, local = tag[1:].split("}", 1)
            if uri not in prefixes:
                usual = _USUAL_PREFIXES.get(uri)
                prefixes[uri] = usual if usual and usual not in prefixes.values() else _free_prefix(prefixes, "ns")
            used[uri] = prefixes[uri]
            return f"{prefixes[uri]}:{local}" if prefixes[uri] else local

        def write(element: ET.Element, out: list[str]) -> None:
            if element.tag is ET.Comment:
                out.append(f"<!--{element.text or ''}-->")
            elif element.tag is ET.ProcessingInstruction:
                out.append(f"<?{element.text or ''}?>")
            else:
                name = qname(element.tag)
                attributes = "".join(
                    f' {qname(key)}="{_escape_attribute(value)}"' for key, value in element.attrib.items()
                )
                out.append(f"<{name}{{xmlns}}{attributes}" if element is self.root else f"<{name}{attributes}")
                if len(element) == 0 and not element.text:
                    out.append("/>")
                else:
                    out.append(">" + _escape_text(element.text or ""))
                    for child in element:
                        write(child, out)
                    out.append(f"</{name}>")
            out.append(_escape_text(element.tail or ""))

        saved_tail, self.root.tail = self.root.tail, None
        body: list[str] = []
        write(self.root, body)
        self.root.tail = saved_tail
        declarations = "".join(
            f' xmlns:{prefix}="{_escape_attribute(uri)}"' if prefix else f' xmlns="{_escape_attribute(uri)}"'
            for uri, prefix in used.items()
        )
        return self.head + "".join(body).replace("{xmlns}", declarations, 1) + self.tail


_USUAL_PREFIXES = {NAMESPACE: "darktable", RDF: "rdf", XMP_MM: "xmpMM"}


def _free_prefix(prefixes: dict[str, str], stem: str) -> str:
    taken = set(prefixes.values())
    return next(f"{stem}{n}" for n in range(len(taken) + 1) if f"{stem}{n}" not in taken)


def _text(xmp: str | bytes) -> str:
    if isinstance(xmp, str):
        return xmp
    for bom, codec in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if xmp.startswith(bom):
            return xmp.decode(codec)
    try:
        return xmp.decode("utf-8")
    except UnicodeDecodeError:
        raise DarktableError("darktable sidecar is not UTF-8 text") from None


def _escape_text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _escape_attribute(value: str) -> str:
    return (
        _escape_text(value).replace('"', "&quot;").replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;")
    )


def _fields(li: ET.Element) -> dict[str, str]:
    """An rdf:li's darktable fields: attributes, child elements (rdf:parseType="Resource"), or a nested
    rdf:Description's."""
    fields: dict[str, str] = {}
    for node in (li, *li.findall(_RDF + "Description")):
        for key, value in node.attrib.items():
            if key.startswith(_DT):
                fields[key[len(_DT) :]] = value
        for child in node:
            if isinstance(child.tag, str) and child.tag.startswith(_DT) and len(child) == 0:
                fields[child.tag[len(_DT) :]] = (child.text or "").strip()
    return fields


def _integer(value: str | None, what: str) -> int | None:
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        raise DarktableError(f"darktable {what} is not a whole number: {value!r}") from None


class _History:
    """darktable:history of a document, with what is applied and in which pipeline order."""

    def __init__(self, document: _Document):
        self.document = document
        if document.property("history_operation") is not None or any(
            d.find(_DT + "history_operation") is not None for d in document.descriptions()
        ):
            raise DarktableError("darktable sidecar in the old layout (history_operation lists) is not supported")
        self.sequence: ET.Element | None = None
        self.entries: list[_Entry] = []
        for description in document.descriptions():
            history = description.find(_DT + "history")
            if history is None:
                continue
            self.description = description
            self.sequence = history.find(_RDF + "Seq")
            if self.sequence is None:
                self.sequence = ET.SubElement(history, _RDF + "Seq")
            break
        if self.sequence is not None:
            for index, li in enumerate(self.sequence.findall(_RDF + "li")):
                fields = _fields(li)
                num = _integer(fields.get("num"), "history num")
                self.entries.append(
                    _Entry(
                        li,
                        index if num is None else num,
                        fields.get("operation", ""),
                        _integer(fields.get("enabled", "1"), "enabled flag") != 0,
                        _integer(fields.get("modversion"), "modversion"),
                        fields.get("params", ""),
                        _integer(fields.get("multi_priority", "0"), "multi_priority") or 0,
                    )
                )
        end = _integer(document.property("history_end"), "history_end")
        self.end = len(self.entries) if end is None else end
        order_version = _integer(document.property("iop_order_version"), "iop_order_version")
        self.order_version = 1 if order_version is None else order_version
        self.order_list = document.property("iop_order_list")

    def state(self) -> dict[tuple[str, int], _Entry]:
        """Each module instance's applied entry: the last one with num < history_end."""
        state: dict[tuple[str, int], _Entry] = {}
        for entry in sorted(self.entries, key=lambda e: e.num):
            if entry.num < self.end:
                state[entry.instance] = entry
        return state

    def position(self, operation: str) -> int | None:
        """Where `operation` runs in the pipeline, for the modules cropstyle cares about."""
        if self.order_version == 0 and self.order_list:
            names = self.order_list.split(",")[::2]
            return names.index(operation) if operation in names else None
        order = _LEGACY_ORDER if self.order_version == 1 else _V30_ORDER
        return order.index(operation) if operation in order else None


@dataclass(frozen=True)
class _Frame:
    """The frame the crop module works in: the stored pixels shown with `orientation` (EXIF), or None for the
    file's own orientation, cropstyle's displayed frame."""

    orientation: int | None


def _applied_crops(state: dict[tuple[str, int], _Entry]) -> list[_Entry]:
    """The crop modules the history applies: none or one; two cannot be mapped."""
    crops = [entry for entry in state.values() if entry.operation in CROP_MODULES and entry.enabled]
    if len(crops) > 1:
        names = " and ".join(sorted(f"{e.operation} (instance {e.multi_priority})" for e in crops))
        raise DarktableError(f"darktable history applies two crops, {names}: not supported")
    return crops


def _check_geometry(history: _History, state: dict[tuple[str, int], _Entry], crop_module: str) -> None:
    crop_at = history.position(crop_module)
    for entry in state.values():
        if not entry.enabled or entry.operation not in _GEOMETRY_MODULES or entry.operation in CROP_MODULES:
            continue
        at = history.position(entry.operation)
        if crop_at is not None and at is not None and at > crop_at:
            continue  # runs after the crop: the crop's frame does not see it
        if entry.operation == "lens" and not _lens_moves_pixels(entry):
            continue
        raise DarktableError(
            f"darktable {entry.operation} module ({_GEOMETRY_MODULES[entry.operation]}) "
            f"before the crop is not supported"
        )


def _lens_moves_pixels(entry: _Entry) -> bool:
    """Whether a lens correction changes the geometry: only a 4.2 one (version 6) correcting vignetting and
    chromatic aberration alone, at scale 1, is known not to."""
    if entry.modversion != LENS_VERSION:
        return True
    try:
        data = entry.blob()
    except DarktableError:
        return True
    flags, scale = struct.unpack_from("<i", data, 4)[0], struct.unpack_from("<f", data, 12)[0]
    return bool(flags & _LENS_GEOMETRY_FLAGS) or abs(scale - 1.0) > 1e-3


def _frame(history: _History, state: dict[tuple[str, int], _Entry], crop_module: str) -> _Frame:
    flips = [entry for entry in state.values() if entry.operation == "flip"]
    if not flips:
        return _Frame(None)  # darktable's default: the file's own orientation
    if len(flips) > 1:
        raise DarktableError("darktable history has two flip instances: not supported")
    flip = flips[0]
    flip_at, crop_at = history.position("flip"), history.position(crop_module)
    if flip_at is not None and crop_at is not None and flip_at > crop_at:
        raise DarktableError(f"darktable module order with flip after {crop_module} is not supported")
    if not flip.enabled:
        return _Frame(1)
    (orientation,) = struct.unpack(_FLIP_FORMAT, flip.blob())
    if orientation == _AUTO_FLIP:
        return _Frame(None)
    if orientation not in _FLIP_TO_EXIF:
        raise DarktableError(f"darktable flip orientation {orientation} is not one darktable defines")
    return _Frame(_FLIP_TO_EXIF[orientation])


def _frame_size(frame: _Frame, width: int, height: int, orientation: int | None) -> tuple[int, int]:
    if frame.orientation is None or frame.orientation == orientation:
        return width, height
    stored = displayed_size(width, height, _known(orientation, frame))
    return displayed_size(*stored, frame.orientation)


def _known(orientation: int | None, frame: _Frame) -> int:
    if orientation is None:
        raise DarktableError(
            f"darktable shows this photo with orientation {frame.orientation} (set in darktable); "
            f"mapping its crop needs the photo's EXIF orientation"
        )
    return orientation


def _frame_to_displayed(crop: Crop, frame: _Frame, width: int, height: int, orientation: int | None) -> Crop:
    if frame.orientation is None or frame.orientation == orientation:
        return crop
    stored = displayed_size(width, height, _known(orientation, frame))
    in_frame = displayed_size(*stored, frame.orientation)
    return to_displayed(to_stored(crop, *in_frame, frame.orientation), *stored, orientation)


def _displayed_to_frame(crop: Crop, frame: _Frame, width: int, height: int, orientation: int | None) -> Crop:
    if frame.orientation is None or frame.orientation == orientation:
        return crop
    stored = displayed_size(width, height, _known(orientation, frame))
    return to_displayed(to_stored(crop, width, height, orientation), *stored, frame.orientation)


# --- the modules' geometry -----------------------------------------------------------------------------------------


def _clamp(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


def crop_from_crop_params(params: CropParams) -> Crop:
    """The crop module's box (fractions of its frame), clamped as darktable's commit_params does."""
    return Crop(
        _clamp(params.cx, 0.0, 0.9),
        _clamp(params.cy, 0.0, 0.9),
        _clamp(params.cw, 0.1, 1.0),
        _clamp(params.ch, 0.1, 1.0),
        0.0,
    )


def _clipping_frame(angle: float, crop_auto: int, width: float, height: float) -> tuple[float, float, bool]:
    """The box (width, height, transposed) clipping's fractions refer to, centred on the turned image's centre
    (clipping.c, modify_roi_out without keystone)."""
    c, s = abs(math.cos(math.radians(angle))), abs(math.sin(math.radians(angle)))
    if crop_auto != 1:
        return width * c + height * s, width * s + height * c, False
    best, chosen = -1.0, (width, height, False)
    for transposed in (False, True):
        box_w, box_h = (height, width) if transposed else (width, height)
        scale = min(1.0, box_w / (width * c + height * s), box_h / (width * s + height * c))
        if scale >= best:
            best, chosen = scale, (scale * box_w, scale * box_h, transposed)
    return chosen


def crop_from_clipping_params(params: ClippingParams, width: float, height: float) -> Crop:
    """The crop clipping cuts out of a `width`×`height` frame, in that frame."""
    if params.cw < 0 or params.ch < 0:
        raise DarktableError("darktable clipping module with a mirror flip is not supported")
    keystone_h = params.k_h if -1.0 <= params.k_h <= 1.0 else 0.0
    keystone_v = params.k_v if -1.0 <= params.k_v <= 1.0 else 0.0
    if (params.k_type == 4 and (keystone_h or keystone_v)) or (
        params.k_type >= 0 and params.k_apply == 1 and params.k_type != 4
    ):
        raise DarktableError("darktable clipping module with keystone correction is not supported")
    if not (math.isfinite(params.angle) and abs(params.angle) <= 180):
        raise DarktableError(f"darktable clipping angle {params.angle!r} is not an angle")
    box_w, box_h, _ = _clipping_frame(params.angle, params.crop_auto, width, height)
    # The cut, in the turned frame, centred on the image's centre (a transposed box is centred the same way).
    left, right = -box_w / 2 + params.cx * box_w, -box_w / 2 + params.cw * box_w
    top, bottom = -box_h / 2 + params.cy * box_h, -box_h / 2 + params.ch * box_h
    mx, my = (left + right) / 2, (top + bottom) / 2
    a = math.radians(params.angle)
    # Back into the input: turn by −angle about the centre. The cut's own axes turn the same way, so its angle
    # in cropstyle's convention (clockwise) is −angle.
    centre_x = math.cos(a) * mx + math.sin(a) * my + width / 2
    centre_y = -math.sin(a) * mx + math.cos(a) * my + height / 2
    return rect_to_crop(RotatedRect(centre_x, centre_y, right - left, bottom - top, -params.angle), width, height)


def clipping_params_for(crop: Crop, width: float, height: float) -> ClippingParams:
    """clipping v5 parameters (crop_auto 0) that cut `crop` out of a `width`×`height` frame."""
    rect = crop_to_rect(crop, width, height)
    angle = -crop.angle
    box_w, box_h, _ = _clipping_frame(angle, 0, width, height)
    a = math.radians(angle)
    dx, dy = rect.cx - width / 2, rect.cy - height / 2
    mx, my = math.cos(a) * dx - math.sin(a) * dy, math.sin(a) * dx + math.cos(a) * dy
    return ClippingParams(
        angle=angle,
        cx=(mx - rect.width / 2 + box_w / 2) / box_w,
        cy=(my - rect.height / 2 + box_h / 2) / box_h,
        cw=(mx + rect.width / 2 + box_w / 2) / box_w,
        ch=(my + rect.height / 2 + box_h / 2) / box_h,
    )


# --- reading -------------------------------------------------------------------------------------------------------


def read_darktable_crop(
    xmp: str | bytes, displayed_width: int, displayed_height: int, *, orientation: int | None = None
) -> Crop | None:
    """The crop darktable applies with this sidecar, in cropstyle's displayed frame (`displayed_width` ×
    `displayed_height`: the photo with its EXIF orientation applied); None when no crop module is applied.

    `orientation`, the photo's EXIF orientation, is needed only when the sidecar sets a rotation of its own in
    darktable's flip module (or turns it off). Raises DarktableError (one line) for what cannot be read."""
    history = _History(_Document(xmp))
    state = history.state()
    crops = _applied_crops(state)
    if not crops:
        return None
    entry = crops[0]
    _check_geometry(history, state, entry.operation)
    frame = _frame(history, state, entry.operation)
    data = entry.blob()
    if entry.operation == "crop":
        crop = crop_from_crop_params(CropParams.unpack(data))
    else:
        width, height = _frame_size(frame, displayed_width, displayed_height, orientation)
        crop = crop_from_clipping_params(ClippingParams.unpack(data), width, height)
    return _frame_to_displayed(crop, frame, displayed_width, displayed_height, orientation)


# --- writing -------------------------------------------------------------------------------------------------------


_NEW_SIDECAR = """<?xml version="1.0" encoding="UTF-8"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="cropstyle">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/"
    xmlns:darktable="http://darktable.sf.net/"
   xmpMM:DerivedFrom="{source}"
   darktable:xmp_version="5"
   darktable:raw_params="0"
   darktable:auto_presets_applied="0"
   darktable:history_end="0"
   darktable:iop_order_version="2">
   <darktable:masks_history>
    <rdf:Seq/>
   </darktable:masks_history>
   <darktable:history>
    <rdf:Seq/>
   </darktable:history>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
"""


def write_darktable_crop(
    existing_xmp: str | bytes | None,
    crop: Crop,
    displayed_width: int,
    displayed_height: int,
    source_name: str,
    *,
    orientation: int | None = None,
) -> str:
    """A darktable sidecar that crops the photo to `crop` (displayed frame of `displayed_width` ×
    `displayed_height`): `existing_xmp` with one more history entry (and one switching the other crop module
    off if it was on), or a new minimal sidecar for `source_name` (the photo's file name). Text in, text out.

    A crop without angle is written with darktable's crop module (v1), a turned one with crop and rotate
    (clipping v5). `orientation` as for read_darktable_crop. Raises DarktableError when the sidecar's history
    puts the crop in a frame cropstyle cannot map, or the crop is not one darktable can apply."""
    problem = crop_problem(crop, displayed_width, displayed_height)
    if problem:
        raise DarktableError(f"cannot write an invalid crop: {problem}")
    if existing_xmp is None:
        existing_xmp = _NEW_SIDECAR.format(source=_escape_attribute(source_name))
    document = _Document(existing_xmp)
    history = _History(document)
    state = history.state()
    module = "crop" if abs(crop.angle) < 1e-9 else "clipping"
    applied = _applied_crops(state)
    _check_geometry(history, state, module)
    frame = _frame(history, state, module)
    in_frame = _displayed_to_frame(crop, frame, displayed_width, displayed_height, orientation)
    width, height = _frame_size(frame, displayed_width, displayed_height, orientation)
    if module == "crop":
        if (
            in_frame.left > 0.9 + 1e-9
            or in_frame.top > 0.9 + 1e-9
            or in_frame.right < 0.1 - 1e-9
            or in_frame.bottom < 0.1 - 1e-9
        ):
            raise DarktableError("crop lies beyond darktable's crop module limits (an edge within 0.1 of the far side)")
        params = CropParams(*(_clamp(value, 0.0, 1.0) for value in in_frame.values()[:4])).pack()
    else:
        params = clipping_params_for(in_frame, width, height).pack()
    priority = next((e.multi_priority for e in applied if e.operation == module), 0)
    new = [
        _new_entry(e.operation, None, enabled=False, multi_priority=e.multi_priority, like=e)
        for e in applied
        if e.operation != module
    ]  # the other crop module goes off, its parameters kept
    new.append(_new_entry(module, params, enabled=True, multi_priority=priority))
    _insert(document, history, new)
    return document.serialize()


def _new_entry(
    operation: str, params: bytes | None, *, enabled: bool, multi_priority: int, like: _Entry | None = None
) -> ET.Element:
    li = ET.Element(_RDF + "li")
    version = like.modversion if like is not None else _LAYOUTS[operation][0]
    values = {
        "operation": operation,
        "enabled": "1" if enabled else "0",
        "modversion": str(version),
        "params": like.params if like is not None else encode_params(params),
        "multi_name": "",
        "multi_priority": str(multi_priority),
        "blendop_version": str(_BLENDOP_VERSION),
        "blendop_params": _BLENDOP_PARAMS,
    }
    if like is not None:
        old = _fields(like.element)
        for name in ("multi_name", "blendop_version", "blendop_params"):
            if name in old:
                values[name] = old[name]
    li.set(_DT + "num", "")  # placeholder, numbered on insertion; keeps darktable's attribute order
    for name, value in values.items():
        li.set(_DT + name, value)
    return li


def _insert(document: _Document, history: _History, new: list[ET.Element]) -> None:
    """Put `new` at history_end: later (undone) entries and their masks move up, history_end covers them."""
    if history.sequence is None:
        description = next(
            (d for d in document.descriptions() if any(k.startswith(_DT) for k in d.attrib)), None
        ) or next(iter(document.descriptions()), None)
        if description is None:
            raise DarktableError("XMP packet has no rdf:Description to hold a darktable history")
        children = [child for child in description if child.tag is not ET.Comment]
        indent = (children[-2].tail if len(children) > 1 else description.text) or "\n   "
        closing = children[-1].tail if children else indent[:-1] if indent.endswith(" ") else indent
        if children:
            children[-1].tail = indent
        else:
            description.text = indent
        container = ET.SubElement(description, _DT + "history")
        container.text, container.tail = indent + " ", closing
        history.sequence = ET.SubElement(container, _RDF + "Seq")
        history.sequence.text, history.sequence.tail = indent + "  ", indent
        history.description = description
        for name, value in (("xmp_version", "5"), ("auto_presets_applied", "0"), ("iop_order_version", "2")):
            if document.property(name) is None:
                description.set(_DT + name, value)
        if history.order_version != 0:
            history.order_version = 2
    if history.order_version == 0 and history.order_list is not None:
        names = history.order_list.split(",")[::2]
        for li in new:
            if li.get(_DT + "operation") not in names:
                raise DarktableError(f"darktable custom module order has no {li.get(_DT + 'operation')} module")
    # darktable numbers the history 0, 1, …; an end beyond the last entry means after it
    end, shift = max(0, min(history.end, max((e.num for e in history.entries), default=-1) + 1)), len(new)
    for entry in history.entries:
        if entry.num >= end:
            _renumber(entry.element, "num", entry.num + shift)
    for li in document.root.iter(_DT + "masks_history"):
        for mask in li.iter(_RDF + "li"):
            number = _integer(_fields(mask).get("mask_num"), "mask_num")
            if number is not None and number >= end:
                _renumber(mask, "mask_num", number + shift)
    for offset, li in enumerate(new):
        li.set(_DT + "num", str(end + offset))
    sequence = history.sequence
    items = [child for child in sequence if child.tag == _RDF + "li"]
    later = [child for child in items if (_integer(_fields(child).get("num"), "history num") or 0) >= end + shift]
    between = sequence.text if sequence.text and not sequence.text.strip() else "\n" + " " * 5
    if not items:
        sequence.text, closing = between, between[:-1]
    else:
        closing = items[-1].tail or ""
    at = list(sequence).index(later[0]) if later else len(sequence)
    for offset, li in enumerate(new):
        li.tail = between
        sequence.insert(at + offset, li)
    if not later:  # appended: the last entry now closes the Seq
        if items:
            items[-1].tail = between
        new[-1].tail = closing
    document.set_property(history.description, "history_end", str(end + shift))


def _renumber(li: ET.Element, name: str, value: int) -> None:
    """Set a darktable field of an rdf:li wherever it is written (attribute or element)."""
    for node in (li, *li.findall(_RDF + "Description")):
        if _DT + name in node.attrib:
            node.set(_DT + name, str(value))
            return
        child = node.find(_DT + name)
        if child is not None:
            child.text = str(value)
            return
