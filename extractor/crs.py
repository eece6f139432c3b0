"""Camera Raw settings (`crs:`), the vocabulary Lightroom keeps crops in: their names, their neutral values,
and reading and writing them (docs/crop-metadata.md). Everything else imports them from here.

The same names appear in XMP (embedded in a photo, or a sidecar) and in a Lightroom catalog's develop
settings (a Lua table). Readers hand this module the settings as a mapping of bare names (`CropLeft`, not
`XMP-crs:CropLeft`); writers get the values as Lightroom writes them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from cropstyle.extractor.geometry import IDENTITY, LABEL_VALUES, Crop

NAMESPACE = "http://ns.adobe.com/camera-raw-settings/1.0/"
EXIFTOOL_GROUP = "XMP-crs"  # exiftool's name for the namespace (-G1): tags read as "XMP-crs:CropLeft"

# The crop's five values, in the label's order (geometry.LABEL_VALUES: left, top, right, bottom, angle).
CROP_TAGS = tuple(f"Crop{name.capitalize()}" for name in LABEL_VALUES)
# What a missing value means: Lightroom's defaults, the whole frame upright.
CROP_DEFAULTS = dict(zip(CROP_TAGS, IDENTITY.values()))
# Each Perspective* slider with its neutral value; any other value means the crop is in a warped frame.
PERSPECTIVE_NEUTRAL = {
    "PerspectiveUpright": 0,
    "PerspectiveVertical": 0,
    "PerspectiveHorizontal": 0,
    "PerspectiveRotate": 0,
    "PerspectiveAspect": 0,
    "PerspectiveX": 0,
    "PerspectiveY": 0,
    "PerspectiveScale": 100,
}
DECIMALS = 6  # Lightroom writes crop values with 6 decimals


def xmp_settings(tags: Mapping[str, object]) -> dict[str, object]:
    """The crs values among exiftool's tags (read with -G1), by bare name."""
    prefix = EXIFTOOL_GROUP + ":"
    return {key[len(prefix) :]: value for key, value in tags.items() if key.startswith(prefix)}


def is_true(value: object) -> bool:
    """An XMP boolean: True, or the text "True" in any case."""
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def crop_from_values(values: Mapping[str, float]) -> Crop:
    """A crop from CROP_TAGS values (stored frame); missing values take CROP_DEFAULTS."""
    return Crop(*(float(values.get(tag, CROP_DEFAULTS[tag])) for tag in CROP_TAGS))


def has_perspective(settings: Mapping[str, object]) -> bool:
    """Whether any perspective slider is off its neutral value. A value that is not a number counts as set:
    the frame is then unknown, so the crop cannot be trusted."""
    for name, neutral in PERSPECTIVE_NEUTRAL.items():
        value = settings.get(name)
        if value is None:
            continue
        try:
            if isinstance(value, (bool, list, dict)) or float(value) != neutral:
                return True
        except (TypeError, ValueError):
            return True
    return False


def rounded(value: float) -> float:
    """A crop value as Lightroom stores it (6 decimals), without a negative zero."""
    return round(value, DECIMALS) + 0.0


def text(value: float) -> str:
    """A crop value as Lightroom writes it in XMP."""
    return f"{rounded(value):.{DECIMALS}f}"


def written(crop: Crop) -> Crop:
    """The crop exactly as it reads back from what this module writes."""
    return Crop(*(float(text(value)) for value in crop.values()))


def crop_settings(crop: Crop | None, has_crop: bool | None = True) -> dict[str, str]:
    """The crs values of a crop (stored frame) as Lightroom writes them beside its other settings; `has_crop`
    None leaves HasCrop out (as some tools do)."""
    settings: dict[str, str] = {}
    if crop is not None:
        settings.update(zip(CROP_TAGS, map(text, crop.values())))
        settings["CropConstrainToWarp"] = "0"
    if has_crop is not None:
        settings["HasCrop"] = "True" if has_crop else "False"
    return settings


def exiftool_assignments(crop: Crop) -> list[str]:
    """exiftool arguments that set a crop (stored frame) in a photo's XMP or a sidecar, as Lightroom writes it."""
    return [f"-{EXIFTOOL_GROUP}:HasCrop=True"] + [
        f"-{EXIFTOOL_GROUP}:{tag}={text(value)}" for tag, value in zip(CROP_TAGS, crop.values())
    ]


# The namespaces of the packets we write, by prefix.
XMP_NAMESPACES = {
    "tiff": "http://ns.adobe.com/tiff/1.0/",
    "exif": "http://ns.adobe.com/exif/1.0/",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "photoshop": "http://ns.adobe.com/photoshop/1.0/",
    "xmpMM": "http://ns.adobe.com/xap/1.0/mm/",
    "stEvt": "http://ns.adobe.com/xap/1.0/sType/ResourceEvent#",
    "dc": "http://purl.org/dc/elements/1.1/",
    "crs": NAMESPACE,
}
XMP_TOOLKIT = "Adobe XMP Core 7.0-c000 1.000000, 0000/00/00-00:00:00        "


def xmp_packet(
    attributes: Mapping[str, str],
    history: Sequence[Mapping[str, str]] = (),
    *,
    wrapped: bool = True,
    toolkit: str = XMP_TOOLKIT,
) -> str:
    """An XMP packet in Lightroom's layout: one rdf:Description, simple values as attributes (`prefix:Name`),
    the edit history as xmpMM:History events (stEvt names). Embedded packets are `wrapped` in <?xpacket?>;
    Lightroom writes sidecars without it."""
    declarations = "\n".join(f'    xmlns:{prefix}="{uri}"' for prefix, uri in XMP_NAMESPACES.items())
    values = "\n".join(f'   {name}="{_escape(value)}"' for name, value in attributes.items())
    body = ""
    if history:
        items = "\n".join(
            "     <rdf:li " + " ".join(f'stEvt:{k}="{_escape(v)}"' for k, v in event.items()) + "/>"
            for event in history
        )
        body = f"\n   <xmpMM:History>\n    <rdf:Seq>\n{items}\n    </rdf:Seq>\n   </xmpMM:History>\n  "
    description = f'  <rdf:Description rdf:about=""\n{declarations}\n{values}'
    description += f">{body}</rdf:Description>" if body else "/>"
    packet = (
        f'<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="{toolkit}">\n'
        ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        f"{description}\n"
        " </rdf:RDF>\n"
        "</x:xmpmeta>\n"
    )
    if not wrapped:
        return packet
    return '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n' + packet + '<?xpacket end="w"?>'


def _escape(value: str) -> str:
    return value.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")
