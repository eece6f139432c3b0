"""Reading crops from Lightroom catalogs (extractor/lrcat.py), on copies of the real Lightroom 5 catalog."""

import contextlib
import hashlib
import math
import shutil
import sqlite3
from pathlib import Path
from urllib.parse import quote

import pytest
from PIL import Image

from cropstyle.extractor import lua_table
from cropstyle.extractor.geometry import Crop
from cropstyle.extractor.lrcat import (
    CatalogError,
    CatalogPhoto,
    read_catalog,
    read_develop_settings,
    xmp_already_applied,
)
from cropstyle.samples.catalog import CATALOG_TEMPLATE, CatalogEntry, encode_xmp_blob, write_catalog
from tests.conftest import REAL_CATALOG

REAL_SHA256 = "1cc8dbf74ec512bc0e4203ad46d114e4afff17a305ca983e35547cdc1f35030e"
NEF_FOLDER = "12-01 (MO) Pre-party Phoelix/"
# The real catalog: image id → (file, format, stored size, re-imported export)
REAL = {
    21: (f"/Users/maxmouchet/Pictures/2013/{NEF_FOLDER}_MAX7667.NEF", "RAW", 4256, 2832, False),
    40: (f"/Users/maxmouchet/Pictures/2013/{NEF_FOLDER}_MAX7674.NEF", "RAW", 4256, 2832, False),
    63: ("/Users/maxmouchet/Dropbox/Photos/Exports Random/fb_vaasa/_MAX3047.jpg", "JPG", 2048, 1363, True),
    78: ("/Users/maxmouchet/Dropbox/Photos/Exports Random/fb_vaasa/_MAX3065.jpg", "JPG", 2048, 1363, True),
}
CROP_LINES = (
    "CropAngle = -2.18554,\nCropBottom = 0.945854,\nCropLeft = 0.01504,\nCropRight = 0.98496,\nCropTop = 0.054146,\n"
)
CROP = Crop(0.01504, 0.054146, 0.98496, 0.945854, -2.18554)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def real(real_catalog) -> Path:
    """The real catalog (../shared), checked unmodified before and after this module's tests."""
    assert sha256(real_catalog) == REAL_SHA256
    yield real_catalog
    assert sha256(real_catalog) == REAL_SHA256
    assert not real_catalog.with_name(real_catalog.name + "-wal").exists()
    assert not real_catalog.with_name(real_catalog.name + "-journal").exists()


@pytest.fixture
def catalog(real, tmp_path) -> Path:
    """A writable copy of the real catalog."""
    copy = tmp_path / "catalog.lrcat"
    shutil.copyfile(real, copy)
    copy.chmod(0o644)
    return copy


def execute(catalog: Path, sql: str, parameters: tuple = ()) -> None:
    connection = sqlite3.connect(catalog)
    try:
        with connection:
            connection.execute(sql, parameters)
    finally:
        connection.close()


def develop_text(catalog: Path, image: int) -> str:
    connection = sqlite3.connect(catalog)
    try:
        return connection.execute("SELECT text FROM Adobe_imageDevelopSettings WHERE image = ?", (image,)).fetchone()[0]
    finally:
        connection.close()


def set_text(catalog: Path, image: int, text: str) -> None:
    execute(catalog, "UPDATE Adobe_imageDevelopSettings SET text = ? WHERE image = ?", (text, image))


def with_crop_lines(text: str, lines: str = CROP_LINES) -> str:
    """The develop text with crop lines where Lightroom puts them (keys are sorted)."""
    anchor = "ConvertToGrayscale = false,\n"
    assert anchor in text
    return text.replace(anchor, anchor + lines)


def photos(catalog: Path, remap=()) -> dict[int, CatalogPhoto]:
    return {photo.image_id: photo for photo in read_catalog(catalog, remap)}


def generate_photos(root: Path) -> None:
    """Small real files where the real catalog's root folders will point."""
    for location, _, _, _, _ in REAL.values():
        relative = location.split("/2013/")[-1] if "/2013/" in location else location.split("/fb_vaasa/")[-1]
        target = root / ("pictures" if "/2013/" in location else "exports") / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (60, 40), (90, 120, 150)).save(target, format="JPEG")


def test_real_catalog_exact_values(catalog):
    result = photos(catalog)
    assert sorted(result) == [21, 40, 63, 78]
    for image_id, (location, file_format, width, height, export) in REAL.items():
        assert result[image_id] == CatalogPhoto(
            image_id=image_id,
            path=Path(location),
            file_format=file_format,
            orientation=1,
            width=width,
            height=height,
            copy_name=None,
            crop=None,
            problem=None,
            already_applied=export,
            perspective=False,
        )


def test_reads_the_original_in_place_without_touching_it(real):
    # Read-only file owned by someone else: the reader copies it and never needs to write.
    result = list(read_catalog(real))
    assert [photo.image_id for photo in result] == [21, 40, 63, 78]
    assert sha256(real) == REAL_SHA256


def test_crop_as_lightroom_writes_it(catalog):
    set_text(catalog, 21, with_crop_lines(develop_text(catalog, 21)))
    result = photos(catalog)
    assert result[21].crop == CROP
    assert result[21].problem is None
    assert result[40].crop is None and result[40].problem is None  # "no crop"


def test_missing_crop_keys_take_defaults(catalog):
    set_text(catalog, 21, with_crop_lines(develop_text(catalog, 21), "CropLeft = 0.1,\nCropTop = 0.2,\n"))
    assert photos(catalog)[21].crop == Crop(0.1, 0.2, 1.0, 1.0, 0.0)


def test_crop_keys_in_nested_tables_and_strings_are_not_the_crop(catalog):
    lines = 'CorrectionNote = "CropLeft = 0.3,",\nCorrections = { { CropLeft = 0.5, What = "Correction" } },\n'
    set_text(catalog, 21, with_crop_lines(develop_text(catalog, 21), lines))
    assert photos(catalog)[21].crop is None
    assert photos(catalog)[21].problem is None


@pytest.mark.parametrize(
    "code, exif", [("AB", 1), ("BA", 2), ("CD", 3), ("DC", 4), ("AD", 5), ("BC", 6), ("CB", 7), ("DA", 8)]
)
def test_orientation_codes(catalog, code, exif):
    execute(catalog, "UPDATE Adobe_images SET orientation = ? WHERE id_local = 21", (code,))
    set_text(catalog, 21, with_crop_lines(develop_text(catalog, 21)))
    photo = photos(catalog)[21]
    assert photo.orientation == exif
    # The size and crop stay in the stored frame whatever the orientation.
    assert (photo.width, photo.height, photo.crop) == (4256, 2832, CROP)


@pytest.mark.parametrize("code", ["XY", "ab", "", None, 6])
def test_unknown_orientation_is_none(catalog, code):
    execute(catalog, "UPDATE Adobe_images SET orientation = ? WHERE id_local = 21", (code,))
    assert photos(catalog)[21].orientation is None


def test_virtual_copy_with_its_own_crop(catalog):
    connection = sqlite3.connect(catalog)
    with connection:
        columns = [row[1] for row in connection.execute("PRAGMA table_info(Adobe_images)")]
        values = dict(zip(columns, connection.execute("SELECT * FROM Adobe_images WHERE id_local = 21").fetchone()))
        values.update(id_local=500, id_global="VIRTUAL-COPY-1", copyName="Copy 1", masterImage=21)
        connection.execute(
            f"INSERT INTO Adobe_images ({', '.join(values)}) VALUES ({', '.join('?' * len(values))})",
            tuple(values.values()),
        )
        text = with_crop_lines(
            develop_text(catalog, 21), "CropBottom = 0.75,\nCropLeft = 0.25,\nCropRight = 0.75,\nCropTop = 0.25,\n"
        )
        connection.execute(
            "INSERT INTO Adobe_imageDevelopSettings (id_local, image, text) VALUES (501, 500, ?)", (text,)
        )
    connection.close()
    set_text(catalog, 21, with_crop_lines(develop_text(catalog, 21)))
    result = photos(catalog)
    master, copy = result[21], result[500]
    assert master.path == copy.path == Path(REAL[21][0])
    assert master.copy_name is None and master.crop == CROP
    assert copy.copy_name == "Copy 1" and copy.crop == Crop(0.25, 0.25, 0.75, 0.75, 0.0)
    assert [photo.image_id for photo in read_catalog(catalog)] == [21, 40, 63, 78, 500]


def test_re_imported_exports(catalog):
    result = photos(catalog)
    assert [image_id for image_id, photo in result.items() if photo.already_applied] == [63, 78]


@pytest.mark.parametrize(
    "text, problem",
    [
        ("s = { CropLeft = 0.1,", "unreadable develop settings: Lua syntax error at 21: "),
        ('s = { CropLeft = "abc" }', "unreadable develop settings: CropLeft is a string, not a number"),
        ("s = { CropLeft = {} }", "unreadable develop settings: CropLeft is a table, not a number"),
        ("s = { CropTop = true }", "unreadable develop settings: CropTop is a boolean, not a number"),
        ("s = 5", "unreadable develop settings: a number, not a table of settings"),
        ("s = 'x'", "unreadable develop settings: a string, not a table of settings"),
        (
            "s = { a = b }",
            "unreadable develop settings: Lua syntax error at 10: expected a value, found the variable 'b'",
        ),
    ],
)
def test_malformed_develop_text_gives_a_reason(catalog, text, problem):
    set_text(catalog, 21, text)
    result = photos(catalog)
    assert result[21].crop is None
    assert result[21].problem.startswith(problem)
    assert "\n" not in result[21].problem
    assert result[40].problem is None  # the other photos are unaffected


def test_truncated_real_text(catalog):
    text = with_crop_lines(develop_text(catalog, 21))
    set_text(catalog, 21, text[: text.index("CropLeft") + 5])
    photo = photos(catalog)[21]
    assert photo.crop is None and photo.problem.startswith("unreadable develop settings: Lua syntax error at ")


def test_no_develop_settings_row(catalog):
    execute(catalog, "DELETE FROM Adobe_imageDevelopSettings WHERE image = 21")
    photo = photos(catalog)[21]
    assert photo.crop is None and photo.problem is None


@pytest.mark.parametrize(
    "lines, perspective", [("", False), ("PerspectiveUpright = 1,\n", True), ("PerspectiveUpright = 0,\n", False)]
)
def test_perspective_upright(catalog, lines, perspective):
    set_text(catalog, 21, with_crop_lines(develop_text(catalog, 21), lines))
    assert photos(catalog)[21].perspective is perspective


@pytest.mark.parametrize(
    "old, new, perspective",
    [
        ("PerspectiveVertical = 0,", "PerspectiveVertical = -12,", True),
        ("PerspectiveScale = 100,", "PerspectiveScale = 90,", True),
        ("PerspectiveRotate = 0,", "PerspectiveRotate = 0.5,", True),
        ("PerspectiveScale = 100,", "PerspectiveScale = 100,", False),
    ],
)
def test_perspective_settings(catalog, old, new, perspective):
    text = develop_text(catalog, 21)
    assert old in text
    set_text(catalog, 21, text.replace(old, new))
    assert photos(catalog)[21].perspective is perspective


def test_lightroom_classic_compressed_xmp(catalog):
    connection = sqlite3.connect(catalog)
    with connection:
        for row_id, xmp in connection.execute("SELECT id_local, xmp FROM Adobe_AdditionalMetadata").fetchall():
            connection.execute(
                "UPDATE Adobe_AdditionalMetadata SET xmp = ? WHERE id_local = ?", (encode_xmp_blob(xmp), row_id)
            )
    connection.close()
    result = photos(catalog)
    assert [image_id for image_id, photo in result.items() if photo.already_applied] == [63, 78]


@pytest.mark.parametrize(
    "xmp",
    [
        b"\x00\x00\x10\x00\x78\x9cgarbage",  # a zlib header, then nonsense
        b"\x00\x00",
        "<x:xmpmeta crs:AlreadyApplied='True'",  # truncated
        '<!DOCTYPE x [<!ENTITY a "True">]>'
        '<x xmlns:crs="http://ns.adobe.com/camera-raw-settings/1.0/" crs:AlreadyApplied="&a;"/>',
        '<x xmlns:crs="http://ns.adobe.com/camera-raw-settings/1.0/" crs:AlreadyApplied="False"/>',
        "",
        12,
    ],
)
def test_bad_or_negative_xmp_is_not_an_export(catalog, xmp):
    execute(catalog, "UPDATE Adobe_AdditionalMetadata SET xmp = ? WHERE image = 63", (xmp,))
    result = photos(catalog)
    assert result[63].already_applied is False
    assert result[78].already_applied is True


CRS = "http://ns.adobe.com/camera-raw-settings/1.0/"


@pytest.mark.parametrize(
    "xmp, expected",
    [
        (f'<a xmlns:c="{CRS}" c:AlreadyApplied="True"/>', True),
        (f'<a xmlns:c="{CRS}" c:AlreadyApplied="False"/>', False),
        ('<a xmlns:c="http://example.com/other/" c:AlreadyApplied="True"/>', False),
        (f'<a xmlns="{CRS}" AlreadyApplied="True"/>', False),  # an unprefixed attribute is in no namespace
        (f'<a xmlns="{CRS}"><AlreadyApplied>True</AlreadyApplied></a>', True),
        (f'<a xmlns:c="{CRS}"><b><c:AlreadyApplied> true </c:AlreadyApplied></b></a>', True),
        (
            f'<a xmlns:c="{CRS}"><b xmlns:c="http://example.com/"><c:AlreadyApplied>True</c:AlreadyApplied></b></a>',
            False,
        ),
        ("AlreadyApplied", False),
        (b"\xff\xfeAlreadyApplied", False),
    ],
)
def test_xmp_already_applied_namespaces(xmp, expected):
    assert xmp_already_applied(xmp) is expected


def test_xmp_blob_bomb_is_refused():
    bomb = b"\x00\x00\x00\x00" + __import__("zlib").compress(b"<a " + b" " * (64 << 20) + b"AlreadyApplied/>")
    assert xmp_already_applied(bomb) is False


def test_no_xmp_row(catalog):
    execute(catalog, "DELETE FROM Adobe_AdditionalMetadata WHERE image = 63")
    assert photos(catalog)[63].already_applied is False


def test_element_form_already_applied(catalog):
    xmp = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description xmlns:crs="http://ns.adobe.com/camera-raw-settings/1.0/">'
        "<crs:AlreadyApplied> True </crs:AlreadyApplied></rdf:Description></rdf:RDF></x:xmpmeta>"
    )
    execute(catalog, "UPDATE Adobe_AdditionalMetadata SET xmp = ? WHERE image = 21", (encode_xmp_blob(xmp),))
    assert photos(catalog)[21].already_applied is True


def test_newer_schema_with_extra_columns_and_tables(catalog):
    for table in (
        "Adobe_images",
        "AgLibraryFile",
        "AgLibraryFolder",
        "AgLibraryRootFolder",
        "Adobe_imageDevelopSettings",
        "Adobe_AdditionalMetadata",
    ):
        execute(catalog, f"ALTER TABLE {table} ADD COLUMN futureColumn TEXT DEFAULT 'x'")
    execute(catalog, "CREATE TABLE AgFutureTable (id_local INTEGER PRIMARY KEY, image INTEGER)")
    set_text(catalog, 21, with_crop_lines(develop_text(catalog, 21)))
    result = photos(catalog)
    assert result[21].crop == CROP
    assert [photo.already_applied for photo in result.values()] == [False, False, True, True]


def test_missing_optional_table_degrades(catalog):
    execute(catalog, "DROP TABLE Adobe_AdditionalMetadata")
    result = photos(catalog)
    assert sorted(result) == [21, 40, 63, 78]
    assert not any(photo.already_applied for photo in result.values())


def test_missing_file_row(catalog):
    execute(catalog, "DELETE FROM AgLibraryFile WHERE id_local = 23")
    photo = photos(catalog)[21]
    assert photo.path == Path() and photo.problem == "catalog has no file for this image"


def test_paths_from_another_machine_and_remap(catalog, tmp_path):
    generate_photos(tmp_path)
    unmapped = photos(catalog)
    assert not any(photo.path.exists() for photo in unmapped.values())  # "missing file" for the extractor
    remap = [
        ("/Users/maxmouchet/Pictures/2013", str(tmp_path / "pictures")),
        ("/Users/maxmouchet/Dropbox/Photos/Exports Random/fb_vaasa/", str(tmp_path / "exports") + "/"),
    ]
    result = photos(catalog, remap)
    assert result[21].path == tmp_path / "pictures" / NEF_FOLDER / "_MAX7667.NEF"
    assert result[63].path == tmp_path / "exports" / "_MAX3047.jpg"
    assert all(photo.path.exists() for photo in result.values())


def test_remap_matches_whole_components_and_longest_prefix(catalog, tmp_path):
    result = photos(
        catalog, [("/Users/maxmouchet/Pic", "/nowhere"), ("/Users", "/home"), ("/Users/maxmouchet/Pictures", "/photos")]
    )
    assert result[21].path == Path(f"/photos/2013/{NEF_FOLDER}_MAX7667.NEF")
    assert result[63].path == Path("/home/maxmouchet/Dropbox/Photos/Exports Random/fb_vaasa/_MAX3047.jpg")


def test_root_folder_pointed_at_generated_photos(catalog, tmp_path):
    generate_photos(tmp_path)
    execute(catalog, "UPDATE AgLibraryRootFolder SET absolutePath = ? WHERE id_local = 17", (f"{tmp_path}/pictures/",))
    photo = photos(catalog)[21]
    assert photo.path == tmp_path / "pictures" / NEF_FOLDER / "_MAX7667.NEF" and photo.path.exists()


def test_develop_settings_by_path(catalog, tmp_path):
    """read_develop_settings: each photo's parsed develop settings and orientation, by its path after --remap."""
    texts = {image: develop_text(catalog, image) for image in REAL}
    settings = read_develop_settings(catalog, [("/Users/maxmouchet/Pictures/2013", str(tmp_path))])
    paths = {
        image: Path(location.replace("/Users/maxmouchet/Pictures/2013", str(tmp_path)))
        for image, (location, *_) in REAL.items()
    }
    assert set(settings) == set(paths.values())
    for image, path in paths.items():
        entry = settings[path]
        assert (entry.photo.image_id, entry.photo.orientation, entry.photo.problem) == (image, 1, None)
        assert entry.settings == lua_table.loads(texts[image]) and entry.photo.already_applied == REAL[image][4]
    nef = settings[paths[21]].settings
    assert (nef["Temperature"], nef["ToneCurve"], nef["RetouchInfo"]) == (
        2900,
        [0, 0, 32, 22, 64, 56, 128, 128, 192, 196, 255, 255],
        [],
    )


def test_develop_settings_of_masters_only(tmp_path):
    """A virtual copy shares its master's file, so only the master's settings are a file's; an unreadable text
    gives None and the reason."""
    photo = tmp_path / "a.jpg"
    catalog = tmp_path / "c.lrcat"
    write_catalog(
        catalog,
        [
            CatalogEntry(photo, 6, 300, 200, CROP, develop={"Exposure2012": 0.5}),
            CatalogEntry(photo, 6, 300, 200, None, copy_name="BW", develop={"ConvertToGrayscale": True}),
        ],
    )
    entry = read_develop_settings(catalog)[photo]
    assert (entry.photo.copy_name, entry.photo.orientation, entry.photo.crop) == (None, 6, CROP)
    assert entry.settings["Exposure2012"] == 0.5 and entry.settings["ConvertToGrayscale"] is False
    assert entry.settings["CropLeft"] == CROP.left
    set_text(catalog, entry.photo.image_id, "s = { Exposure2012 = ")
    broken = read_develop_settings(catalog)[photo]
    assert broken.settings is None and broken.photo.problem.startswith("unreadable develop settings")


def test_windows_paths(catalog, tmp_path):
    execute(catalog, "UPDATE AgLibraryRootFolder SET absolutePath = 'C:/Users/max/Pictures/2013/' WHERE id_local = 17")
    assert str(photos(catalog)[21].path) == f"C:/Users/max/Pictures/2013/{NEF_FOLDER}_MAX7667.NEF"
    remapped = photos(catalog, [("C:\\Users\\max\\Pictures", str(tmp_path))])[21]
    assert remapped.path == tmp_path / "2013" / NEF_FOLDER / "_MAX7667.NEF"


def test_wal_catalog_held_open_by_lightroom(catalog):
    # Lightroom Classic keeps its catalog open in WAL mode: committed changes may live only in the -wal file.
    lightroom = sqlite3.connect(catalog)
    lightroom.execute("PRAGMA journal_mode=WAL")
    lightroom.execute("PRAGMA wal_autocheckpoint=0")
    with lightroom:
        lightroom.execute(
            "UPDATE Adobe_imageDevelopSettings SET text = ? WHERE image = 21",
            (with_crop_lines(develop_text(catalog, 21)),),
        )
    wal = catalog.with_name(catalog.name + "-wal")
    try:
        assert wal.stat().st_size > 0
        before = (sha256(catalog), sha256(wal))
        assert photos(catalog)[21].crop == CROP  # the change that is only in the WAL
        assert (sha256(catalog), sha256(wal)) == before
    finally:
        lightroom.close()


def test_not_a_catalog(tmp_path):
    text = tmp_path / "notes.lrcat"
    text.write_text("hello")
    with pytest.raises(CatalogError, match="not an SQLite database"):
        read_catalog(text)
    other = tmp_path / "other.lrcat"
    connection = sqlite3.connect(other)
    connection.execute("CREATE TABLE t (x)")
    connection.close()
    with pytest.raises(CatalogError, match="no Adobe_images table"):
        read_catalog(other)
    with pytest.raises(CatalogError, match="cannot read catalog"):
        read_catalog(tmp_path / "absent.lrcat")
    corrupt = tmp_path / "corrupt.lrcat"
    written = tmp_path / "written.lrcat"
    write_catalog(written, ENTRIES)
    corrupt.write_bytes(written.read_bytes()[:100] + b"\xff" * 4000)
    with pytest.raises(CatalogError):
        list(read_catalog(corrupt))


def test_streams_and_cleans_up(catalog):
    iterator = read_catalog(catalog)
    first = next(iterator)
    assert first.image_id == 21
    iterator.close()
    assert [photo.image_id for photo in read_catalog(catalog)] == [21, 40, 63, 78]


ENTRIES = [
    CatalogEntry(Path("/photos/2024/trip/a.jpg"), 1, 600, 400, Crop(0.1, 0.2, 0.9, 0.8, 0.0)),
    CatalogEntry(Path("/photos/2024/trip/b.jpg"), 2, 600, 400, Crop(0.05, 0.1, 0.95, 0.9, 2.5)),
    CatalogEntry(Path("/photos/2024/trip/c.jpg"), 3, 600, 400, Crop(0.0, 0.0, 0.5, 0.5, -1.25)),
    CatalogEntry(Path("/photos/2024/home/d.jpg"), 4, 640, 480, None),
    CatalogEntry(Path("/photos/2024/home/e.jpg"), 5, 400, 600, Crop(0.2, 0.1, 0.8, 0.9, 10.0)),
    CatalogEntry(Path("/photos/2024/home/e.jpg"), 5, 400, 600, Crop(0.3, 0.3, 0.7, 0.7, 0.0), copy_name="Copy 1"),
    CatalogEntry(
        Path("/photos/2023/f.NEF"), 6, 4256, 2832, Crop(0.123456, 0.2, 0.9, 0.654321, -44.5), file_format="RAW"
    ),
    CatalogEntry(Path("/photos/g.tif"), 7, 300, 200, Crop(0.1, 0.1, 0.9, 0.9, 0.0), file_format="TIFF"),
    CatalogEntry(Path("C:/Users/me/Pictures/h.jpg"), 8, 200, 300, None, already_applied=True),
]


def test_write_catalog_round_trip(tmp_path):
    out = tmp_path / "written.lrcat"
    write_catalog(out, ENTRIES)
    result = list(read_catalog(out))
    assert len(result) == len(ENTRIES)
    for entry, photo in zip(ENTRIES, result):
        assert photo.path == entry.path
        assert (photo.orientation, photo.width, photo.height) == (entry.orientation, entry.width, entry.height)
        assert photo.crop == entry.crop
        assert photo.copy_name == entry.copy_name
        assert photo.file_format == entry.file_format
        assert photo.already_applied is entry.already_applied
        assert photo.problem is None and photo.perspective is False
    assert len({photo.image_id for photo in result}) == len(result)


def test_written_catalog_looks_like_lightrooms(tmp_path):
    out = tmp_path / "written.lrcat"
    write_catalog(out, ENTRIES)
    connection = sqlite3.connect(out)
    try:
        text = connection.execute("SELECT text FROM Adobe_imageDevelopSettings ORDER BY id_local").fetchone()[0]
        assert text.startswith("s = { AutoGrayscaleMix = true,\n") and text.endswith(" }\n")
        assert (
            "CropBottom = 0.8,\nCropConstrainToWarp = 0,\nCropLeft = 0.1,\nCropRight = 0.9,\nCropTop = 0.2,\n" in text
        )
        assert "HasCrop" not in text and "ToneCurvePV2012 = { 0,\n0,\n255,\n255 }" in text
        codes = [code for (code,) in connection.execute("SELECT orientation FROM Adobe_images ORDER BY id_local")]
        assert codes == ["AB", "BA", "CD", "DC", "AD", "AD", "BC", "CB", "DA"]
        copy = connection.execute(
            "SELECT copyName, masterImage FROM Adobe_images WHERE copyName IS NOT NULL"
        ).fetchone()
        master = connection.execute(
            "SELECT id_local FROM Adobe_images WHERE copyName IS NULL AND rootFile = "
            "(SELECT rootFile FROM Adobe_images WHERE copyName = 'Copy 1')"
        ).fetchone()
        assert copy == ("Copy 1", master[0])
        roots = {path for (path,) in connection.execute("SELECT absolutePath FROM AgLibraryRootFolder")}
        assert roots == {"/photos/2024/", "/photos/", "/", "C:/Users/me/"}
        (tables,) = connection.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()
        assert tables > 50  # the whole real schema
    finally:
        connection.close()


def test_write_catalog_rejects_bad_entries(tmp_path):
    with pytest.raises(ValueError, match="virtual copy"):
        write_catalog(tmp_path / "a.lrcat", [CatalogEntry(Path("/p/x.jpg"), 1, 10, 10, None, copy_name="Copy 1")])
    with pytest.raises(ValueError, match="appears twice"):
        write_catalog(tmp_path / "b.lrcat", [CatalogEntry(Path("/p/x.jpg"), 1, 10, 10, None)] * 2)
    with pytest.raises(ValueError, match="orientation"):
        write_catalog(tmp_path / "c.lrcat", [CatalogEntry(Path("/p/x.jpg"), 9, 10, 10, None)])


# --- the catalog template write_catalog starts from (samples/lrcat_template.sql) ----------------------------------

# Which rows of the real catalog the template copies; `python -m tests.test_lrcat` rewrites the template from them.
SCHEMA = "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' "
SCHEMA_QUERY = (
    SCHEMA + "ORDER BY CASE type WHEN 'table' THEN 0 WHEN 'index' THEN 1 WHEN 'view' THEN 2 ELSE 3 END, rowid"
)
VARIABLES_QUERY = "SELECT * FROM Adobe_variablesTable ORDER BY rowid"
DEVELOP_QUERY = (
    "SELECT i.fileFormat, i.id_local, d.text FROM Adobe_images i "
    "JOIN Adobe_imageDevelopSettings d ON d.image = i.id_local ORDER BY i.id_local"
)


def open_real(catalog: Path = REAL_CATALOG) -> sqlite3.Connection:
    """The real catalog, read-only: no locks, no side files, never written."""
    return sqlite3.connect(f"file:{quote(str(catalog))}?immutable=1", uri=True)


def develop_templates(connection: sqlite3.Connection) -> dict[str, tuple[int, str]]:
    """The develop texts of the first raw and the first non-raw photo: {"RAW": (image, text), "JPG": ...}."""
    templates: dict[str, tuple[int, str]] = {}
    for file_format, image, text in connection.execute(DEVELOP_QUERY):
        templates.setdefault("RAW" if file_format == "RAW" else "JPG", (image, text))
    assert set(templates) == {"RAW", "JPG"}
    return templates


def typed(rows: list[tuple]) -> list[tuple]:
    """Rows with each value's type, so that 95.0 and 95 (or text and blob) differ."""
    return [tuple((type(value).__name__, value) for value in row) for row in rows]


def sql_literal(value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        assert math.isfinite(value)
        return repr(value)  # always has a "." or an exponent: SQLite reads it back as a REAL
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    text = bytes(value).decode("utf-8", errors="replace")
    if text.encode("utf-8") == bytes(value) and "\0" not in text:
        return f"CAST({sql_literal(text)} AS BLOB)"  # a blob holding text: readable
    return f"X'{bytes(value).hex()}'"


def render_template(connection: sqlite3.Connection) -> str:
    """The text of samples/lrcat_template.sql, from the real catalog."""
    licence = REAL_CATALOG.with_name("LICENSE-MIT").read_text(encoding="utf-8")
    parts = [
        "-- What samples.catalog.write_catalog builds every catalog from, copied from a real Lightroom 5 catalog\n"
        "-- (test_catalog_1.lrcat of alfanick/lrcat.rb, in the project's external test corpus) "
        "by tests/test_lrcat.py:\n"
        "-- `python -m tests.test_lrcat` rewrites this file, and the tests check that it still matches that catalog.\n"
        "-- Run as one script.\n--\n",
        "".join(f"-- {line}".rstrip() + "\n" for line in licence.splitlines()),
        "\n\n-- 1. The schema: every table, then every index, then every trigger, each in the catalog's own order.\n\n",
    ]
    for _, _, _, sql in connection.execute(SCHEMA_QUERY):
        parts.append(f"{sql};\n\n")
    parts.append(
        "\n-- 2. The catalog settings (write_catalog then moves Adobe_entityIDCounter past the ids it uses).\n\n"
    )
    for row in connection.execute(VARIABLES_QUERY):
        parts.append(f"INSERT INTO Adobe_variablesTable VALUES ({', '.join(map(sql_literal, row))});\n")
    parts.append(
        "\n\n-- 3. Develop settings templates: the develop text of the catalog's first raw photo (RAW) and of its\n"
        "-- first JPEG (JPG); write_catalog sets the crop in a copy of one of them. A TEMP table: not part of the\n"
        "-- catalog.\n\n"
        "CREATE TEMP TABLE develop_template (fileFormat TEXT PRIMARY KEY, text TEXT NOT NULL);\n"
    )
    for file_format, (image, text) in develop_templates(connection).items():
        parts.append(
            f"\n-- Adobe_imageDevelopSettings.text of image {image}\n"
            f"INSERT INTO develop_template VALUES ({sql_literal(file_format)}, {sql_literal(text)});\n"
        )
    return "".join(parts)


def test_shipped_template_matches_the_real_catalog(real):
    template = CATALOG_TEMPLATE.read_text(encoding="utf-8")
    shipped = sqlite3.connect(":memory:")
    real = open_real(real)
    try:
        shipped.executescript(template)
        # The same statements, in the template in the order write_catalog has always run them.
        assert shipped.execute(SCHEMA + "ORDER BY rowid").fetchall() == real.execute(SCHEMA_QUERY).fetchall()
        everything = "SELECT type, name, tbl_name FROM sqlite_master ORDER BY name"  # with SQLite's own indexes
        assert shipped.execute(everything).fetchall() == real.execute(everything).fetchall()
        assert typed(shipped.execute(VARIABLES_QUERY).fetchall()) == typed(real.execute(VARIABLES_QUERY).fetchall())
        assert dict(shipped.execute("SELECT fileFormat, text FROM develop_template")) == {
            file_format: text for file_format, (_, text) in develop_templates(real).items()
        }
        assert template == render_template(real), "rewrite samples/lrcat_template.sql: python -m tests.test_lrcat"
    finally:
        shipped.close()
        real.close()


if __name__ == "__main__":
    with contextlib.closing(open_real()) as reference:
        CATALOG_TEMPLATE.write_text(render_template(reference), encoding="utf-8")
    print(f"wrote {CATALOG_TEMPLATE}")
