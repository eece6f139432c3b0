"""`cropstyle apply --catalog` / `--new-sidecars`: Lightroom write-back that never costs an edit (issue 30).

New raw sidecars carry the catalog's develop settings with the crop; an existing sidecar older than the catalog is
refused (unless --force); without a catalog no raw sidecar is made (unless --new-sidecars). On catalogs that
samples/catalog.py writes and on the real Lightroom 5 catalog, with real NEFs (the raw stub with a preview), real
exiftool and a real model.
"""

from __future__ import annotations

import hashlib
import math
import shutil
from pathlib import Path

import exiftool
import pandas as pd
import pytest

from cropstyle.export.apply import HAS_CROP, NO_SIDECAR, NOT_IN_CATALOG, apply
from cropstyle.export.lightroom_sidecar import (
    read_xmp_settings,
    sidecar_from_catalog,
    stale_differences,
    stale_reason,
    unwritable_settings,
    xmp_crs_settings,
)
from cropstyle.extractor.crs import CROP_TAGS
from cropstyle.extractor.extract import extract
from cropstyle.extractor.geometry import LABEL_VALUES, Crop
from cropstyle.extractor.lrcat import read_develop_settings
from cropstyle.extractor.metadata import metadata_tool
from cropstyle.samples.catalog import CatalogEntry, write_catalog
from cropstyle.samples.library import RAW_STUBS
from tests.conftest import scene, tree_hash
from tests.test_export_support import crop_model, trained_run

NEF_SIZE = (3040, 2014)  # the Nikon stub's declared size: the stored frame
SAVE_FIRST = "Save Metadata to Files in Lightroom first, or --force"
EDITED = {  # develop settings beyond the template's: what a photographer did in Lightroom
    "Exposure2012": 0.5,
    "Contrast2012": 12,
    "WhiteBalance": "Custom",
    "Temperature": 5150,
    "Tint": -7,
    "ToneCurveName2012": "Custom",
    "ToneCurvePV2012": [0, 0, 64, 50, 192, 210, 255, 255],
}
MASKED = {  # a graduated filter, as Lightroom keeps one in its catalog
    "GradientBasedCorrections": [
        {
            "What": "Correction",
            "CorrectionActive": True,
            "CorrectionAmount": 1,
            "LocalExposure2012": 0.4,
            "CorrectionMasks": [
                {"What": "Mask/Gradient", "MaskValue": 1, "ZeroX": 0.5, "ZeroY": 0.2, "FullX": 0.5, "FullY": 0.6}
            ],
        }
    ]
}
# Written by Lightroom into its catalogs but not its sidecars (the real catalog's Lightroom 5 keeps them).
NOT_IN_LIGHTROOM_SIDECARS = {"AutoGrayscaleMix", "Brightness", "Contrast", "Exposure", "Shadows"}


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return crop_model(tmp_path_factory)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return trained_run(tmp_path_factory)


def make_nef(path: Path, exif_writer, seed: int) -> Path:
    """A real NEF (the raw stub) with a preview of a scene, upright, as a camera writes it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(RAW_STUBS / "Nikon.nef", path)
    preview = path.with_name(path.name + ".preview.jpg")
    scene(380, 252, seed=seed).save(preview, quality=90)
    exif_writer(path, "-m", f"-PreviewImage<={preview}", f"-JpgFromRaw<={preview}")
    preview.unlink()
    return path


def file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def exiftool_xmp(path: Path) -> dict:
    """The XMP tags of `path` as exiftool names them (-G1 -n)."""
    with exiftool.ExifToolHelper(common_args=["-G1", "-n"]) as tool:
        tags = tool.get_metadata(str(path))[0]
    return {k: v for k, v in tags.items() if k.startswith("XMP-")}


def xmp_settings(path: Path) -> dict[str, object]:
    with metadata_tool() as tool:
        return read_xmp_settings(tool, path)


def assert_holds(written: dict[str, object], settings: dict) -> None:
    """Every develop setting of the catalog is in the sidecar with its exact value (the crop aside)."""
    for name, value in settings.items():
        if name in CROP_TAGS or value in ([], {}):
            continue
        text = written[name]
        if isinstance(value, bool):
            assert text == str(value), name
        elif isinstance(value, (int, float)):
            assert float(text) == value, name
        elif isinstance(value, list):
            assert text == [f"{x}, {y}" for x, y in zip(value[::2], value[1::2])], name
        else:
            assert text == value, name


def assert_crop(path: Path, crop: Crop) -> None:
    tags = exiftool_xmp(path)
    assert tags["XMP-crs:HasCrop"] is True
    assert [tags[f"XMP-crs:{name}"] for name in CROP_TAGS] == list(crop.values())


def lightroom_saved(settings: dict, orientation: int = 1, **changes: object) -> str:
    """A sidecar as Lightroom's Save Metadata to Files writes one: its own number formats (+0.50, +12), a later
    Camera Raw version, defaults the catalog leaves out, keys it leaves out, bookkeeping; `changes` by name."""
    values = {k: v for k, v in settings.items() if k not in NOT_IN_LIGHTROOM_SIDECARS and v not in ([], {})}
    values.update({"HueAdjustmentRed": 0, "Version": "9.12", **changes})

    def text(value: object) -> str:
        if isinstance(value, bool):
            return str(value)
        if isinstance(value, int):
            return f"{value:+d}" if value else "0"
        if isinstance(value, float):
            return f"{value:+.2f}" if value else "0.00"
        return str(value)

    attributes = "".join(f'\n   crs:{k}="{text(v)}"' for k, v in sorted(values.items()) if not isinstance(v, list))
    curves = "".join(
        f"\n   <crs:{k}>\n    <rdf:Seq>"
        + "".join(f"\n     <rdf:li>{x}, {y}</rdf:li>" for x, y in zip(v[::2], v[1::2]))
        + f"\n    </rdf:Seq>\n   </crs:{k}>"
        for k, v in sorted(values.items())
        if isinstance(v, list)
    )
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="Adobe XMP Core 5.6-c011 79.156380, 2014/05/21-23:38:37">\n'
        ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        '  <rdf:Description rdf:about=""\n    xmlns:tiff="http://ns.adobe.com/tiff/1.0/"\n'
        '    xmlns:dc="http://purl.org/dc/elements/1.1/"\n'
        '    xmlns:crs="http://ns.adobe.com/camera-raw-settings/1.0/"\n'
        f'   tiff:Orientation="{orientation}"{attributes}\n'
        '   crs:HasSettings="True"\n   crs:HasCrop="False"\n   crs:AlreadyApplied="False">\n'
        "   <dc:subject>\n    <rdf:Bag>\n     <rdf:li>keep me</rdf:li>\n    </rdf:Bag>\n   </dc:subject>"
        f"{curves}\n  </rdf:Description>\n </rdf:RDF>\n</x:xmpmeta>\n"
    )


@pytest.fixture
def shoot(tmp_path, exif_writer):
    """Raws of one shoot and a catalog holding their edits: edited.NEF (exposure, white balance, a tone curve),
    masked.NEF (a graduated filter too), cropped.NEF (already cropped in Lightroom), stranger.NEF (not in it)."""
    folder = tmp_path / "Pictures" / "2024-05 shoot"
    raws = {
        name: make_nef(folder / f"{name}.NEF", exif_writer, seed)
        for seed, name in enumerate(("edited", "masked", "cropped", "stranger"))
    }
    entries = [
        CatalogEntry(raws["edited"], 1, *NEF_SIZE, None, file_format="RAW", develop=EDITED),
        CatalogEntry(raws["masked"], 1, *NEF_SIZE, None, file_format="RAW", develop={**EDITED, **MASKED}),
        CatalogEntry(raws["cropped"], 1, *NEF_SIZE, Crop(0.1, 0.1, 0.9, 0.9, 1.5), file_format="RAW"),
    ]
    catalog = tmp_path / "Lightroom" / "Catalog.lrcat"
    catalog.parent.mkdir()
    write_catalog(catalog, entries)
    return folder, raws, catalog


def labels_of(folder: Path, out: Path) -> dict[str, pd.Series]:
    extract([folder], out, size=64, jobs=1, progress=False)
    labels = pd.read_csv(out / "labels.csv")
    return {Path(row["source"]).name: row for _, row in labels.iterrows()}


def test_new_sidecar_holds_the_catalog_settings_and_the_crop(model, run, shoot, tmp_path):
    folder, raws, catalog = shoot
    catalog_before = file_hash(catalog)
    before = {p.name for p in folder.iterdir()}
    summary = apply(run, [folder], model=model, catalog=catalog)
    actions = {a.source.name: a for a in summary.actions}

    edited = actions["edited.NEF"]
    assert edited.status == "written" and edited.created and edited.target == folder / "edited.xmp"
    assert actions["masked.NEF"].reason == (
        "its catalog settings hold GradientBasedCorrections, which cropstyle cannot write into a sidecar: "
        "use Lightroom's Save Metadata to Files first"
    )
    assert actions["cropped.NEF"].reason == HAS_CROP  # the catalog's crop is the photo's crop
    assert actions["stranger.NEF"].reason == NOT_IN_CATALOG
    assert {p.name for p in folder.iterdir()} == before | {"edited.xmp"}  # nothing else was written
    assert file_hash(catalog) == catalog_before
    report = summary.report()
    assert "wrote 1 crops: 1 into new sidecars" in report and "skipped 3:" in report

    # Read back: every catalog setting with its exact value, the crop as apply writes it, Lightroom's orientation.
    settings = read_develop_settings(catalog)[raws["edited"]].settings
    written = xmp_settings(edited.target)
    assert_holds(written, settings)
    assert written["HasSettings"] == "True" and stale_differences(written, settings) == []
    assert_crop(edited.target, edited.stored)
    tags = exiftool_xmp(edited.target)
    assert tags["XMP-crs:Exposure2012"] == 0.5 and tags["XMP-crs:ColorTemperature"] == 5150
    assert tags["XMP-crs:Tint"] == -7 and tags["XMP-crs:WhiteBalance"] == "Custom"
    assert tags["XMP-crs:ToneCurvePV2012"] == ["0, 0", "64, 50", "192, 210", "255, 255"]
    assert tags["XMP-tiff:Orientation"] == 1

    # extract reads the crop back from the new sidecar.
    labels = labels_of(folder, tmp_path / "dataset")
    assert set(labels) == {"edited.NEF"} and labels["edited.NEF"]["origin"] == "xmp-sidecar"
    values = [labels["edited.NEF"][k] for k in LABEL_VALUES]
    assert values == pytest.approx(edited.displayed.values(), abs=1e-4)

    # --force replaces the catalog's crop, with the catalog's settings; a second run finds the new sidecar current.
    summary = apply(run, [folder], model=model, catalog=catalog, force=True)
    actions = {a.source.name: a for a in summary.actions}
    assert actions["cropped.NEF"].created and actions["cropped.NEF"].replaced == Crop(0.1, 0.1, 0.9, 0.9, 1.5)
    assert actions["edited.NEF"].status == "written" and not actions["edited.NEF"].created


def test_stale_sidecar_is_refused_left_alone_and_force_writes(model, run, shoot):
    folder, raws, catalog = shoot
    settings = read_develop_settings(catalog)[raws["edited"]].settings
    sidecar = folder / "edited.xmp"
    # Saved before the last edits: exposure, white balance and the curve changed in Lightroom since.
    sidecar.write_text(
        lightroom_saved(settings, Exposure2012=0.0, Temperature=4800, Tint=3, ToneCurvePV2012=[0, 0, 255, 255])
    )
    stale = file_hash(sidecar)
    expected = (
        "sidecar edited.xmp is older than the catalog (Exposure2012 +0.5 in the catalog, 0 in the sidecar, "
        f"and 3 more): {SAVE_FIRST}"
    )
    for dry_run in (True, False):
        summary = apply(run, [raws["edited"]], model=model, catalog=catalog, dry_run=dry_run)
        assert [(a.status, a.reason) for a in summary.actions] == [("skipped", expected)]
        assert file_hash(sidecar) == stale
    assert f"  {expected}: 1" in summary.report()

    summary = apply(run, [raws["edited"]], model=model, catalog=catalog, force=True)
    (action,) = summary.actions
    assert action.status == "written" and not action.created and action.target == sidecar
    assert_crop(sidecar, action.stored)
    kept = exiftool_xmp(sidecar)
    assert kept["XMP-crs:ColorTemperature"] == "+4800"  # the sidecar as Lightroom wrote it, the crop aside
    assert kept["XMP-dc:Subject"] == "keep me"

    # Saved after the last edits, in Lightroom's own formats and key set: current, so the crop goes in.
    sidecar.write_text(lightroom_saved(settings))
    summary = apply(run, [raws["edited"]], model=model, catalog=catalog)
    (action,) = summary.actions
    assert action.status == "written" and not action.created and action.packet is None
    written = exiftool_xmp(sidecar)
    assert_crop(sidecar, action.stored)
    assert written["XMP-crs:Exposure2012"] == "+0.50" and written["XMP-crs:Version"] == 9.12
    assert written["XMP-dc:Subject"] == "keep me"


def test_raw_without_sidecar_needs_the_catalog_or_new_sidecars(model, run, tmp_path, exif_writer):
    folder = tmp_path / "raws"
    raw = make_nef(folder / "lonely.NEF", exif_writer, 5)
    before = tree_hash(folder)
    summary = apply(run, [folder], model=model)
    assert [(a.status, a.reason) for a in summary.actions] == [("skipped", NO_SIDECAR)]
    assert NO_SIDECAR == "no sidecar: Lightroom's edits are in its catalog; give --catalog or --new-sidecars"
    assert f"  {NO_SIDECAR}: 1" in summary.report()
    assert tree_hash(folder) == before

    summary = apply(run, [folder], model=model, new_sidecars=True)  # the old behaviour: the crop alone
    (action,) = summary.actions
    assert action.status == "written" and action.created and action.target == raw.with_suffix(".xmp")
    assert {k for k in exiftool_xmp(action.target) if k.startswith("XMP-crs:")} == {
        "XMP-crs:HasCrop",
        *(f"XMP-crs:{name}" for name in CROP_TAGS),
    }
    assert_crop(action.target, action.stored)


def test_photos_in_place_and_beside(model, run, tmp_path):
    """A JPEG's own XMP is what Lightroom reads: written --in-place only when it holds the catalog's settings.
    Its NAME.EXT.xmp is read by cropstyle alone: written as before."""
    folder = tmp_path / "jpegs"
    folder.mkdir()
    photo = folder / "p.jpg"
    scene(120, 80, seed=2).save(photo, quality=90)
    catalog = tmp_path / "c.lrcat"
    write_catalog(catalog, [CatalogEntry(photo, 1, 120, 80, None, develop=EDITED)])
    original = file_hash(photo)
    summary = apply(run, [photo], model=model, catalog=catalog, in_place=True)
    assert [(a.status, a.reason) for a in summary.actions] == [
        (
            "skipped",
            "the XMP in p.jpg is older than the catalog (the file holds none of the catalog's develop settings): "
            + SAVE_FIRST,
        )
    ]
    assert file_hash(photo) == original and sorted(p.name for p in folder.iterdir()) == ["p.jpg"]

    summary = apply(run, [photo], model=model, catalog=catalog)
    (action,) = summary.actions
    assert action.status == "written" and action.target == folder / "p.jpg.xmp" and action.packet is None
    assert file_hash(photo) == original


def test_real_catalog(model, run, real_catalog, tmp_path, exif_writer):
    """The real Lightroom 5 catalog, its NEF folder --remap'ed to NEFs made here and its exports' folder to JPEGs:
    _MAX7667 gets a new sidecar with the catalog's settings, _MAX7674's stale sidecar is refused, the
    re-imported exports are left alone (the catalog says AlreadyApplied)."""
    real_before = file_hash(real_catalog)
    pictures, exports = tmp_path / "Pictures 2013", tmp_path / "fb_vaasa"
    shoot = pictures / "12-01 (MO) Pre-party Phoelix"
    first = make_nef(shoot / "_MAX7667.NEF", exif_writer, 1)
    second = make_nef(shoot / "_MAX7674.NEF", exif_writer, 2)
    exports.mkdir()
    for seed, name in enumerate(("_MAX3047.jpg", "_MAX3065.jpg")):
        scene(120, 80, seed=seed).save(exports / name, quality=90)
    remap = [
        ("/Users/maxmouchet/Pictures/2013", str(pictures)),
        ("/Users/maxmouchet/Dropbox/Photos/Exports Random/fb_vaasa", str(exports)),
    ]
    catalog = read_develop_settings(real_catalog, remap)
    assert set(catalog) == {first, second, exports / "_MAX3047.jpg", exports / "_MAX3065.jpg"}
    second_sidecar = shoot / "_MAX7674.xmp"
    second_sidecar.write_text(lightroom_saved(catalog[second].settings, Temperature=5000))
    stale = file_hash(second_sidecar)
    exports_before = tree_hash(exports)

    summary = apply(run, [tmp_path], model=model, catalog=real_catalog, remap=remap, in_place=True)
    actions = {a.source.name: a for a in summary.actions}
    assert actions["_MAX7674.NEF"].reason == (
        f"sidecar _MAX7674.xmp is older than the catalog (Temperature +3450 in the catalog, +5000 in the sidecar): "
        f"{SAVE_FIRST}"
    )
    assert file_hash(second_sidecar) == stale
    for name in ("_MAX3047.jpg", "_MAX3065.jpg"):
        assert actions[name].reason == "export, its pixels are already cropped (export: AlreadyApplied in the catalog)"
    assert tree_hash(exports) == exports_before
    action = actions["_MAX7667.NEF"]
    assert action.status == "written" and action.created and action.target == shoot / "_MAX7667.xmp"

    settings = catalog[first].settings
    written = xmp_settings(action.target)
    assert_holds(written, settings)
    assert stale_differences(written, settings) == []
    assert_crop(action.target, action.stored)
    tags = exiftool_xmp(action.target)
    assert (tags["XMP-crs:ColorTemperature"], tags["XMP-crs:Tint"], tags["XMP-crs:ProcessVersion"]) == (2900, 4, 6.7)
    assert tags["XMP-crs:CameraProfile"] == "Adobe Standard" and tags["XMP-crs:ToneCurveName"] == "Medium Contrast"
    assert tags["XMP-crs:ToneCurve"] == ["0, 0", "32, 22", "64, 56", "128, 128", "192, 196", "255, 255"]
    labels = labels_of(shoot, tmp_path / "dataset")
    assert [labels["_MAX7667.NEF"][k] for k in LABEL_VALUES] == pytest.approx(action.displayed.values(), abs=1e-4)
    assert file_hash(real_catalog) == real_before


# --- the rules, without a model ------------------------------------------------------------------------------------


def test_what_cannot_be_written_is_refused(real_catalog):
    real = read_develop_settings(real_catalog)
    assert {tuple(unwritable_settings(entry.settings)) for entry in real.values()} == {()}  # all of it is writable
    settings = {
        **next(iter(real.values())).settings,
        "RetouchInfo": ["centerX = 0.5, centerY = 0.5, radius = 0.05, sourceState = sourceAutoComputed"],
        "Look": {"Name": "Adobe Color", "Amount": 1},
        "Exposure2012": math.inf,
        "ToneCurvePV2012Red": [0, 0, 255],  # an odd number of coordinates is no curve
        "Title": "bell \x07",
    }
    assert unwritable_settings(settings) == ["Exposure2012", "Look", "RetouchInfo", "Title", "ToneCurvePV2012Red"]
    with pytest.raises(ValueError, match="^its catalog settings hold Exposure2012, Look, RetouchInfo, Title"):
        sidecar_from_catalog(settings, Crop(0.1, 0.1, 0.9, 0.9, 0.0))


def test_new_sidecar_text_round_trips():
    settings = {
        "Exposure2012": 1e-7,
        "Temperature": 5150.0,
        "LensProfileName": 'Adobe (Canon "L" <lens> & more)\nsecond line',
        "ConvertToGrayscale": False,
        "CropConstrainToWarp": 1,
        "CropWidth": 3000,
        "ToneCurve": [],
    }
    packet = sidecar_from_catalog(settings, Crop(0.1, 0.2, 0.9, 0.8, -1.25), 6)
    read = xmp_crs_settings(packet)
    assert read == {
        "ConvertToGrayscale": "False",
        "CropConstrainToWarp": "1",  # the user's choice is kept; CropWidth described the old crop
        "Exposure2012": "0.0000001",
        "LensProfileName": settings["LensProfileName"],
        "Temperature": "5150",
        "HasSettings": "True",
        "CropLeft": "0.100000",
        "CropTop": "0.200000",
        "CropRight": "0.900000",
        "CropBottom": "0.800000",
        "CropAngle": "-1.250000",
        "HasCrop": "True",
    }
    assert 'tiff:Orientation="6"' in packet


def test_stale_differences_rules():
    catalog = {
        "Exposure2012": 0.5,
        "Version": "8.2",
        "ProcessVersion": "6.7",
        "CropLeft": 0.1,
        "AutoGrayscaleMix": True,
        "ToneCurvePV2012": [0, 0, 255, 255],
        "GradientBasedCorrections": [{"What": "Correction"}],
        "RetouchInfo": [],
    }
    current = {
        "Exposure2012": "+0.50",
        "Version": "9.12",  # restamped by a later Lightroom: not compared
        "ProcessVersion": "6.7",
        "CropLeft": "0.3",  # the crop apply writes: not compared
        "HueAdjustmentRed": "0",  # on one side only: not compared
        "ToneCurvePV2012": ["0, 0", "255, 255"],
        "GradientBasedCorrections": [{"What": "Correction"}],
    }
    assert stale_differences(current, catalog, sidecar_orientation=6, catalog_orientation=6) == []
    stale = {
        **current,
        "Exposure2012": "0.49",
        "ProcessVersion": "5.7",
        "ToneCurvePV2012": ["0, 0", "128, 140", "255, 255"],
        "GradientBasedCorrections": [],
        "RetouchInfo": ["centerX = 0.5"],
    }
    assert stale_differences(stale, catalog, sidecar_orientation=1, catalog_orientation=6) == [
        "Exposure2012 +0.5 in the catalog, +0.49 in the sidecar",
        "GradientBasedCorrections set in the catalog, none in the sidecar",
        'ProcessVersion "6.7" in the catalog, "5.7" in the sidecar',
        "RetouchInfo none in the catalog, set in the sidecar",
        "ToneCurvePV2012 0,0 255,255 in the catalog, 0,0 128,140 255,255 in the sidecar",
        "orientation 6 in the catalog, 1 in the sidecar",
    ]
    assert stale_differences({"HasCrop": "True", "CropLeft": "0.1"}, catalog) == [
        "the sidecar holds none of the catalog's develop settings",
        "GradientBasedCorrections set in the catalog, none in the sidecar",
    ]
    reason = stale_reason(Path("/x/IMG_1.xmp"), ["Exposure2012 +0.5 in the catalog, 0 in the sidecar", "b", "c"])
    assert reason == (
        f"sidecar IMG_1.xmp is older than the catalog (Exposure2012 +0.5 in the catalog, 0 in the sidecar, "
        f"and 2 more): {SAVE_FIRST}"
    )


def test_xmp_that_cannot_be_read():
    assert xmp_crs_settings("") == {}
    assert xmp_crs_settings("<x:xmpmeta") is None
    bomb = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x:xmpmeta xmlns:x="adobe:ns:meta/"/>'
    assert xmp_crs_settings(bomb) is None


def test_command_line_options():
    from cropstyle import cli

    args = cli.build_parser().parse_args(
        ["apply", "run", "photos", "--catalog", "C.lrcat", "--remap", "/Users/me=/home/me", "--new-sidecars"]
    )
    assert (args.catalog, args.remap, args.new_sidecars, args.force) == (
        Path("C.lrcat"),
        [("/Users/me", "/home/me")],
        True,
        False,
    )
    defaults = cli.build_parser().parse_args(["apply", "run", "photos"])
    assert (defaults.catalog, defaults.remap, defaults.new_sidecars) == (None, [], False)
