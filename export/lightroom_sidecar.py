"""Lightroom write-back that never costs an edit (`cropstyle apply --catalog`).

Lightroom's "Metadata → Read Metadata from Files" replaces a photo's develop settings in the catalog with the
ones in its XMP, so what apply writes must carry every edit the catalog holds:

* a new sidecar (`sidecar_from_catalog`) holds the photo's develop settings from the catalog as crs: tags, with
  the new crop. Scalars become attributes, tone curves (flat `{ x1, y1, x2, y2, ... }` tables in the catalog)
  an `rdf:Seq` of "x, y" points as Lightroom writes them. Anything else (local adjustments, spot removal, red
  eye, looks, any nested table) cannot be written faithfully here, so such a photo gets no sidecar
  (`UnwritableSettings`);
* an existing sidecar, or a file's own XMP written --in-place, is only edited (the crop tags) when it holds the
  catalog's settings (`stale_differences`); one saved before later edits would undo them.

See docs/crop-metadata.md, "Write-back safety".
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from cropstyle import __version__
from cropstyle.extractor import crs
from cropstyle.extractor.geometry import Crop
from cropstyle.extractor.metadata import MetadataTool

SAVE_FIRST = "Save Metadata to Files in Lightroom first"
# Tags left out of the comparison: the crop apply is about to write (the crop it replaces is the catalog's, which
# needs --force), the output size of the old crop, XMP bookkeeping without a catalog counterpart (the catalog's
# own XMP is what apply checks for AlreadyApplied), and the Camera Raw version that last saved the settings,
# which whichever Lightroom writes the sidecar stamps anew.
NOT_COMPARED = frozenset(
    {"HasCrop", *crs.CROP_TAGS, "CropWidth", "CropHeight", "HasSettings", "AlreadyApplied", "RawFileName", "Version"}
)
# Numbers within this are equal: Lightroom writes crops with 6 decimals and most sliders with fewer, from the
# same values its catalog keeps (a slider's step: Exposure 0.01, the rest whole numbers).
TOLERANCE = 1e-6
CURVE_PREFIX = "ToneCurve"  # ToneCurve, ToneCurveRed, ..., ToneCurvePV2012Blue: point lists

_XML_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*\Z")
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")  # characters XML 1.0 cannot hold
_TIFF = "http://ns.adobe.com/tiff/1.0/"
_RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
_XML = "{http://www.w3.org/XML/1998/namespace}"  # xml:lang of an rdf:Alt's items


class UnwritableSettings(ValueError):
    """The catalog's settings hold something a sidecar from cropstyle would lose (one-line reason)."""


# --- a new sidecar from the catalog ------------------------------------------------------------------------------


def unwritable_settings(settings: Mapping[Any, Any]) -> list[str]:
    """The names of the settings `sidecar_from_catalog` cannot write faithfully, sorted: nested tables other than
    tone curves (empty ones are nothing to lose), numbers that are not finite, text XML cannot hold."""
    names = []
    for name, value in settings.items():
        if not isinstance(name, str) or not _XML_NAME.match(name):
            names.append(str(name))
        elif isinstance(value, (list, dict)):
            if value and _curve_points(name, value) is None:
                names.append(name)
        elif isinstance(value, float) and not math.isfinite(value):
            names.append(name)
        elif isinstance(value, str) and _NOT_XML.search(value):
            names.append(name)
    return sorted(names)


def unwritable_reason(names: list[str]) -> str:
    return (
        f"its catalog settings hold {', '.join(names)}, which cropstyle cannot write into a sidecar: "
        "use Lightroom's Save Metadata to Files first"
    )


def sidecar_from_catalog(settings: Mapping[str, Any], crop_stored: Crop, orientation: int | None = None) -> str:
    """A sidecar (XMP packet, Lightroom's layout, no <?xpacket?>) holding the catalog's develop `settings` with
    `crop_stored` (stored frame, as apply writes it: HasCrop True, Crop* with 6 decimals) and the catalog's
    `orientation` as tiff:Orientation. Raises UnwritableSettings when a setting cannot be written faithfully."""
    names = unwritable_settings(settings)
    if names:
        raise UnwritableSettings(unwritable_reason(names))
    attributes: dict[str, str] = {}
    if orientation is not None:
        attributes["tiff:Orientation"] = str(orientation)
    sequences: dict[str, list[str]] = {}
    # The old crop's output size would describe another crop: Lightroom derives it again.
    for name in sorted(set(settings) - {"HasCrop", "CropWidth", "CropHeight", *crs.CROP_TAGS}):
        value = settings[name]
        if isinstance(value, (list, dict)):
            if value:  # a tone curve (unwritable_settings let nothing else through); an empty table is no setting
                sequences[name] = _curve_points(name, value)
        else:
            attributes[f"crs:{name}"] = _text(value)
    attributes["crs:HasSettings"] = "True"
    crop = crs.crop_settings(crop_stored)
    if "CropConstrainToWarp" in settings:  # the user's choice, kept
        crop["CropConstrainToWarp"] = attributes.pop("crs:CropConstrainToWarp", crop["CropConstrainToWarp"])
    attributes.update({f"crs:{name}": value for name, value in crop.items()})
    return _packet(attributes, sequences)


def _curve_points(name: str, value: object) -> list[str] | None:
    """A tone curve's points as Lightroom writes them in XMP ("x, y"), or None when `value` is no tone curve."""
    if not name.startswith(CURVE_PREFIX) or not isinstance(value, list) or len(value) % 2:
        return None
    if not all(_is_number(v) and math.isfinite(v) for v in value):
        return None
    return [f"{_text(x)}, {_text(y)}" for x, y in zip(value[::2], value[1::2])]


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _text(value: object) -> str:
    """A setting as XMP text: True/False as Lightroom writes them, numbers in full without an exponent."""
    if value is True or value is False:
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return format(Decimal(repr(value)), "f")  # the shortest exact digits, never "1e-07"
    return str(value)


def _packet(attributes: Mapping[str, str], sequences: Mapping[str, list[str]]) -> str:
    declarations = f'    xmlns:tiff="{_TIFF}"\n    xmlns:crs="{crs.NAMESPACE}"'
    values = "".join(f'\n   {name}="{_attribute(value)}"' for name, value in attributes.items())
    body = "".join(
        f"\n   <crs:{name}>\n    <rdf:Seq>\n"
        + "".join(f"     <rdf:li>{_element(point)}</rdf:li>\n" for point in points)
        + f"    </rdf:Seq>\n   </crs:{name}>"
        for name, points in sequences.items()
    )
    description = f'  <rdf:Description rdf:about=""\n{declarations}{values}'
    description += f">{body}\n  </rdf:Description>" if body else "/>"
    return (
        f'<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="cropstyle {__version__}">\n'
        ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        f"{description}\n"
        " </rdf:RDF>\n"
        "</x:xmpmeta>\n"
    )


def _element(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#xD;")


def _attribute(value: str) -> str:
    # An XML reader turns a raw tab or line break in an attribute into a space: written as references they stay.
    escaped = _element(value).replace('"', "&quot;")
    return escaped.replace("\t", "&#x9;").replace("\n", "&#xA;")


def write_new_sidecar(path: Path, packet: str) -> None:
    """Create `path` holding `packet`; never replaces a file (FileExistsError), leaves no partial one behind."""
    try:
        with open(path, "x", encoding="utf-8", newline="\n") as handle:
            handle.write(packet)
    except FileExistsError:
        raise
    except BaseException:
        path.unlink(missing_ok=True)
        raise


# --- an existing sidecar against the catalog ---------------------------------------------------------------------


def read_xmp_settings(tool: MetadataTool, path: Path) -> dict[str, object] | None:
    """Every crs: setting of the XMP in `path` (a sidecar, or a photo's own XMP) by its XMP name, or None when
    that XMP cannot be read. exiftool gives the packet (`-b -XMP`); it is read here rather than as exiftool's tags,
    whose names are not always the XMP's (crs:Temperature reads as ColorTemperature, structures' fields as
    abbreviations)."""
    return xmp_crs_settings(tool.execute("-b", "-XMP", str(path)))


def xmp_crs_settings(packet: str) -> dict[str, object] | None:
    """The crs: settings of an XMP packet: text for simple values, lists for rdf:Seq / Bag / Alt, dicts for
    structures; None for text that is no XMP, or that declares a DTD (no entity expansion)."""
    if not packet.strip():
        return {}
    if "<!DOCTYPE" in packet or "<!ENTITY" in packet:
        return None
    try:
        root = ElementTree.fromstring(packet.strip().encode("utf-8"))
    except ElementTree.ParseError:
        return None
    settings: dict[str, object] = {}
    prefix = f"{{{crs.NAMESPACE}}}"
    for rdf in root.iter(f"{_RDF}RDF"):
        for description in (child for child in rdf if child.tag == f"{_RDF}Description"):  # not a structure's
            for name, value in description.attrib.items():
                if name.startswith(prefix):
                    settings[name[len(prefix) :]] = value
            for child in description:
                if child.tag.startswith(prefix):
                    settings[child.tag[len(prefix) :]] = _rdf_value(child)
    return settings


def _rdf_value(element: ElementTree.Element) -> object:
    """An XMP property's value: its text, the items of its rdf:Seq / Bag / Alt, or its fields (a structure)."""
    children = list(element)
    if children and children[0].tag in (f"{_RDF}Seq", f"{_RDF}Bag", f"{_RDF}Alt"):
        return [_rdf_value(item) for item in children[0]]
    if children and children[0].tag == f"{_RDF}Description":
        element, children = children[0], list(children[0])
    fields = {name: value for name, value in element.attrib.items() if not name.startswith((_RDF, _XML))}
    fields.update({child.tag: _rdf_value(child) for child in children})
    if fields or element.get(f"{_RDF}parseType") == "Resource":
        return fields
    return element.text or ""


def stale_differences(
    sidecar_settings: Mapping[str, object],
    catalog_settings: Mapping[Any, Any],
    *,
    sidecar_orientation: int | None = None,
    catalog_orientation: int | None = None,
    where: str = "the sidecar",
) -> list[str]:
    """The settings whose values differ between an existing XMP (`sidecar_settings`, read_xmp_settings) and the
    catalog, each as "NAME CATALOG in the catalog, SIDECAR in the sidecar"; [] when the XMP is up to date.

    Numbers compare numerically (within TOLERANCE; "+0.50" equals 0.5), booleans and text as such, tone curves
    point by point. NOT_COMPARED are left out. A setting on one side only is not compared: Lightroom leaves
    defaults out of either (its catalogs keep the old process version's sliders and AutoGrayscaleMix, which its
    sidecars omit; its sidecars list HueAdjustment* and the like, which its catalogs omit). Nested tables (local
    adjustments, spots) are compared for being there (set on one side, absent or empty on the other) and, as lists,
    for their length, not for what each item holds.
    An XMP holding none of the catalog's settings is stale (a crop-only sidecar, another editor's); so is one whose
    orientation differs (a rotation in Lightroom since)."""
    differences = []
    compared = 0
    for name in sorted(n for n in catalog_settings if isinstance(n, str) and n not in NOT_COMPARED):
        ours = catalog_settings[name]
        if isinstance(ours, (list, dict)) and (not ours or _curve_points(name, ours) is None):
            # A nested table (local adjustments, spots, a look): what each mask or spot holds is not compared,
            # only that both sides have them, and as many.
            theirs = sidecar_settings.get(name)
            if name in sidecar_settings:
                compared += 1
            if _empty(ours) != _empty(theirs):
                state = ("none", "set") if _empty(ours) else ("set", "none")
                differences.append(f"{name} {state[0]} in the catalog, {state[1]} in {where}")
            elif isinstance(ours, list) and isinstance(theirs, list) and len(ours) != len(theirs):
                differences.append(f"{name} {len(ours)} in the catalog, {len(theirs)} in {where}")
            continue
        if name not in sidecar_settings:
            continue
        compared += 1
        theirs = sidecar_settings[name]
        if not _same(ours, theirs):
            differences.append(f"{name} {_show(ours)} in the catalog, {_show(theirs, like=ours)} in {where}")
    if not compared and any(n not in NOT_COMPARED for n in catalog_settings):
        differences.insert(0, f"{where} holds none of the catalog's develop settings")
    if None not in (sidecar_orientation, catalog_orientation) and sidecar_orientation != catalog_orientation:
        differences.append(f"orientation {catalog_orientation} in the catalog, {sidecar_orientation} in {where}")
    return differences


def stale_reason(target: Path, differences: list[str], in_file: bool = False) -> str:
    """Why apply leaves an XMP alone that is older than the catalog: the first difference and how many more."""
    what = f"the XMP in {target.name}" if in_file else f"sidecar {target.name}"
    more = f", and {len(differences) - 1} more" if len(differences) > 1 else ""
    return f"{what} is older than the catalog ({differences[0]}{more}): {SAVE_FIRST}, or --force"


def _as_list(value: object) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _empty(value: object) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _number(value: object) -> float | None:
    """A number, or the number a text holds ("+0.50"), else None."""
    if _is_number(value):
        return float(value)
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def _curve_numbers(value: object) -> list[float] | None:
    """The coordinates of an XMP tone curve ("x, y" items), flattened; None when they are not numbers."""
    numbers = []
    for point in _as_list(value):
        for part in str(point).split(","):
            number = _number(part)
            if number is None:
                return None
            numbers.append(number)
    return numbers


def _same(ours: object, theirs: object) -> bool:
    if ours is True or ours is False:
        return theirs is not None and crs.is_true(theirs) == ours
    if isinstance(ours, list):  # a tone curve
        points = _curve_numbers(theirs)
        return points is not None and len(points) == len(ours) and all(map(_close, ours, points))
    a, b = _number(ours), _number(theirs)
    if a is not None and b is not None:  # "6.7" and 6.7, exiftool's reading of a number-like text
        return _close(a, b)
    return isinstance(ours, str) and isinstance(theirs, str) and ours == theirs


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=0.0, abs_tol=TOLERANCE)


def _show(value: object, like: object = None) -> str:
    """A value for a message, in the form of the catalog's value `like` it: numbers signed as Lightroom shows them
    (+0.5, 0, -12), text quoted, tone curves as x,y points."""
    if value is True or value is False:
        return str(value)
    if isinstance(like, list) or isinstance(value, list):
        numbers = value if isinstance(value, list) and all(map(_is_number, value)) else _curve_numbers(value)
        if numbers is None or len(numbers) % 2 or not all(map(_is_number, numbers)):
            return json.dumps(value)
        return " ".join(f"{_text(x)},{_text(y)}" for x, y in zip(numbers[::2], numbers[1::2])) or "none"
    if isinstance(like, str) or (isinstance(value, str) and not _is_number(like)):
        return f'"{value}"'
    number = _number(value)
    if number is None:
        return "absent" if value is None else str(value)
    return ("+" if number > 0 else "") + _text(number)
