"""What a hostile client found in the photo uploads (issue 26, items 2, 4, 5 and 6), each tried on check_photo and on
a real server process: an EXIF orientation written as a RATIONAL, a photo that declares more pixels than its data
holds, a progressive JPEG of thousands of scans, and photos whose decoding takes more memory than their pixels.
Where the store takes part (a row that cannot be written), on both stores."""

from __future__ import annotations

import io
import sqlite3
import struct
import zlib

import numpy as np
import psycopg
import pytest
from PIL import Image, ImageFile
from PIL.TiffImagePlugin import IFDRational

from cropstyle.extractor.geometry import Crop
from cropstyle.web import limits
from cropstyle.web.rejected import Rejected
from cropstyle.web.store import open_store
from cropstyle.web.uploads import check_photo
from tests.load import (
    UPLOAD_MEDIA,
    ServerProcess,
    blank_png,
    concurrent_uploads,
    http_client,
    photo_bytes,
    submit,
    worst_case_photos,
)

GOOD = {"left": 0.1, "top": 0.2, "right": 0.9, "bottom": 0.8, "angle": 0.0}
CROP = Crop(0.1, 0.2, 0.9, 0.8, 0.0)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One server (SQLite store) for the refusals: nothing of a refused photo may reach its store."""
    store = tmp_path_factory.mktemp("uploads") / "store"
    with ServerProcess(store, rate_limit=0) as process:
        process.store = store
        yield process


def refused(check: pytest.ExceptionInfo) -> tuple[int, str]:
    return check.value.status, check.value.message


def post(server: ServerProcess, data: bytes, image_format: str, seed: int = 0):
    filename, media = UPLOAD_MEDIA[image_format]
    with http_client() as client:
        return submit(
            client, server.url, data, {**GOOD, "left": 0.1 + seed / 1000}, filename=filename, content_type=media
        )


def stored(location) -> tuple[list, list, list, list]:
    """Rows, photos, photos without a row, half-written files."""
    with open_store(location) as store:
        check = store.check()
        return store.all(), store.stored_photos(), check.orphan_photos, check.temporary_files


# --- Photos made for these tests ----------------------------------------------------------------------------


def encoded(image: Image.Image, image_format: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, image_format, **options)
    return buffer.getvalue()


def noise(width: int, height: int, mode: str = "RGB", seed: int = 0) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels).convert(mode)


def rational_orientation_exif(numerator: int, denominator: int) -> bytes:
    """EXIF whose IFD0 holds one entry: Orientation (0x0112) as a RATIONAL (type 5), the way the probe wrote it."""
    tiff = b"II*\0" + struct.pack("<IH", 8, 1) + struct.pack("<HHII", 0x0112, 5, 1, 26) + struct.pack("<I", 0)
    return b"Exif\0\0" + tiff + struct.pack("<II", numerator, denominator)


def with_declared_size(jpeg: bytes, width: int, height: int) -> bytes:
    """`jpeg` with its frame header (SOF0) claiming width × height: the data stays what it was."""
    data, position = bytearray(jpeg), 2
    while data[position + 1] != 0xC0:
        position += 2 + int.from_bytes(data[position + 2 : position + 4], "big")
    data[position + 5 : position + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def with_scans_repeated(progressive: bytes, times: int) -> bytes:
    """The last scan of a progressive JPEG repeated `times` more times before EOI (each a valid refinement scan
    that holds next to nothing: libjpeg decodes every block of it all the same)."""
    last = progressive[progressive.rindex(b"\xff\xda") : -2]  # a scan's data never holds FF DA: this is its header
    return progressive[:-2] + last * times + b"\xff\xd9"


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def png(pixels: np.ndarray, color_type: int, depth: int = 8, interlaced: bool = False) -> bytes:
    """A PNG written by hand (Pillow writes no interlaced or 16-bit colour PNG): filter 0 on every row, Adam7
    passes when interlaced."""
    height, width = pixels.shape[:2]
    passes = (
        ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))
        if interlaced
        else ((0, 0, 1, 1),)
    )
    raw = b""
    for x0, y0, dx, dy in passes:
        part = pixels[y0::dy, x0::dx]
        if part.size:
            raw += b"".join(b"\0" + row.astype(">u2" if depth == 16 else np.uint8).tobytes() for row in part)
    header = struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, int(interlaced))
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(raw))
        + png_chunk(b"IEND", b"")
    )


def one_byte_short(data: bytes) -> bytes:
    """The PNG `data` with its image data one byte short: one IDAT, a complete zlib stream that ends a byte early."""
    chunks, position = [], 8
    while position < len(data):
        length = int.from_bytes(data[position : position + 4], "big")
        chunks.append((data[position + 4 : position + 8], data[position + 8 : position + 8 + length]))
        position += 12 + length
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    first = next(index for index, (kind, _) in enumerate(chunks) if kind == b"IDAT")
    chunks = [chunk for chunk in chunks if chunk[0] != b"IDAT"]
    chunks.insert(first, (b"IDAT", zlib.compress(raw[:-1])))
    return data[:8] + b"".join(png_chunk(kind, body) for kind, body in chunks)


# --- 2. An EXIF orientation written as a RATIONAL; a row that cannot be written -----------------------------


@pytest.mark.parametrize("numerator,denominator,orientation", [(6, 1, 6), (12, 2, 6), (13, 2, 1), (6, 0, 1), (9, 1, 1)])
def test_a_rational_orientation_is_read_as_its_whole_number(numerator, denominator, orientation):
    """6/1 and 12/2 are 6 (the photo displayed turned: 90×120); 13/2, 6/0 or 9 are no orientation (1)."""
    photo = check_photo(encoded(noise(120, 90), "JPEG", exif=rational_orientation_exif(numerator, denominator)))
    assert type(photo.orientation) is int and photo.orientation == orientation
    assert (photo.width, photo.height) == ((90, 120) if orientation == 6 else (120, 90))


def test_a_rational_orientation_is_stored_as_6(location):
    """The probe's photo: a 500 before, and on SQLite its file stayed without a row. Now 201, stored turned."""
    data = encoded(noise(120, 90), "JPEG", exif=rational_orientation_exif(6, 1))
    with ServerProcess(location, rate_limit=0) as server:
        answer = post(server, data, "JPEG")
    assert answer.status_code == 201, answer.text
    rows, photos, orphans, temporary = stored(location)
    assert [(row.orientation, row.width, row.height) for row in rows] == [(6, 90, 120)]
    assert (len(photos), orphans, temporary) == (1, [], [])


def refuse_rows(location) -> None:
    """A trigger that refuses every new row: the photo is written, its row is not."""
    if isinstance(location, str):
        with psycopg.connect(location) as connection:
            connection.execute(
                "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$ "
                "LANGUAGE plpgsql"
            )
            connection.execute(
                "CREATE TRIGGER refuse BEFORE INSERT ON corrections FOR EACH ROW EXECUTE FUNCTION refuse()"
            )
    else:
        with sqlite3.connect(location / "corrections.sqlite3") as db:
            db.execute("CREATE TRIGGER refuse BEFORE INSERT ON corrections BEGIN SELECT RAISE(ABORT, 'refused'); END")


def test_a_row_that_cannot_be_written_leaves_no_photo(location):
    """The row fails after its photo was written: the photo goes too, unless another row already uses it."""
    shared, alone = photo_bytes(80, 60, seed=1), photo_bytes(80, 60, seed=2)
    with open_store(location) as store:
        store.add(shared, "jpg", 80, 60, 1, CROP)
    refuse_rows(location)
    with open_store(location) as store:
        for photo in (alone, shared):
            with pytest.raises((sqlite3.IntegrityError, psycopg.errors.RaiseException), match="refused"):
                store.add(photo, "jpg", 80, 60, 1, Crop(0.2, 0.2, 0.9, 0.8, 0.0))
    rows, photos, orphans, temporary = stored(location)
    assert len(rows) == 1 and photos == [rows[0].photo]  # the one of the row written before
    assert (orphans, temporary) == ([], [])


@pytest.mark.parametrize("field", ["width", "height", "orientation"])
def test_a_size_or_orientation_that_is_no_integer_is_refused_before_writing(location, field):
    """An IFDRational (what Pillow gives for a RATIONAL tag) where an integer belongs: TypeError, nothing written."""
    values = {"width": 80, "height": 60, "orientation": 1, field: IFDRational(6, 1)}
    with open_store(location) as store:
        with pytest.raises(TypeError):
            store.add(photo_bytes(80, 60, seed=3), "jpg", crop=CROP, **values)
    assert stored(location) == ([], [], [], [])


# --- 4. A photo that declares more pixels than its data holds --------------------------------------------------


def lying_jpeg() -> bytes:
    """The probe's photo: 64×48 of data (a few hundred bytes) in a frame that says 4000×4000."""
    return with_declared_size(encoded(noise(64, 48), "JPEG", quality=5), 4000, 4000)


def lying_webps() -> list[bytes]:
    """64×48 WebPs, lossy and lossless, whose headers say 1900×1900 (within the decoded-bytes limit)."""
    lossy = bytearray(encoded(noise(64, 48), "WEBP"))
    lossy[26:30] = struct.pack("<HH", 1900, 1900)
    lossless = bytearray(encoded(noise(64, 48), "WEBP", lossless=True))
    bits = int.from_bytes(lossless[21:25], "little") & ~((1 << 28) - 1) | 1899 | 1899 << 14
    lossless[21:25] = bits.to_bytes(4, "little")
    return [bytes(lossy), bytes(lossless)]


def test_a_jpeg_that_declares_more_than_it_holds_is_refused():
    """Pillow's JPEG decoder pads what is missing with grey and says nothing: the scan must hold a bit per block."""
    data = lying_jpeg()
    assert len(data) < 1000
    with pytest.raises(Rejected) as check:
        check_photo(data)
    status, message = refused(check)
    assert status == 415
    assert message.startswith("`photo` is incomplete: its 4000×4000 pixels are 375000 blocks of 8×8 in a scan of ")
    assert message.endswith("bytes (a bit per block at least)")


def test_a_png_that_declares_more_than_it_holds_is_refused():
    """8 rows of data for 2000 (a zlib stream that ends early: Pillow's decoder stops there and says nothing)."""
    with pytest.raises(Rejected) as check:
        check_photo(blank_png(2000, 2000, rows=8))
    assert refused(check) == (
        415,
        "`photo` is incomplete: its data holds 64008 of the 16002000 bytes its 2000×2000 pixels need",
    )


@pytest.mark.parametrize("kind", ["lossy", "lossless"])
def test_a_webp_that_declares_more_than_it_holds_is_refused(kind):
    data = lying_webps()[kind == "lossless"]
    with pytest.raises(Rejected) as check:
        check_photo(data)
    assert refused(check) == (415, "`photo` could not be decoded: failed to read next frame")


COMPLETE_PNGS = {
    "1-bit": lambda: encoded(noise(33, 17, "1"), "PNG"),
    "grey": lambda: encoded(noise(33, 17, "L"), "PNG"),
    "palette": lambda: encoded(noise(33, 17, "P"), "PNG"),
    "grey+alpha": lambda: encoded(noise(33, 17, "LA"), "PNG"),
    "RGBA": lambda: encoded(noise(33, 17, "RGBA"), "PNG"),
    "16-bit grey": lambda: png(np.arange(33 * 17, dtype=np.uint16).reshape(17, 33) * 97, 0, 16),
    "16-bit RGB": lambda: png(np.arange(33 * 17 * 3, dtype=np.uint16).reshape(17, 33, 3) * 31, 2, 16),
    "interlaced RGBA": lambda: png(np.asarray(noise(33, 17, "RGBA")), 6, interlaced=True),
    "interlaced 16-bit RGB": lambda: png(np.arange(33 * 17 * 3, dtype=np.uint16).reshape(17, 33, 3), 2, 16, True),
    "interlaced 3×1": lambda: png(np.asarray(noise(3, 1, "RGB")), 2, interlaced=True),  # passes without pixels
}


@pytest.mark.parametrize("kind", COMPLETE_PNGS)
def test_complete_pngs_of_every_kind_are_accepted(kind):
    data = COMPLETE_PNGS[kind]()
    with Image.open(io.BytesIO(data)) as image:
        size = image.size
    photo = check_photo(data)
    assert (photo.extension, (photo.width, photo.height)) == ("png", size)
    with pytest.raises(Rejected) as check:  # and the same a byte short is not
        check_photo(one_byte_short(data))
    assert check.value.status == 415 and check.value.message.startswith("`photo` is incomplete"), check.value.message


def test_incomplete_photos_are_refused_by_the_server(server):
    """JPEG, PNG and WebP alike: 415, nothing stored."""
    before = stored(server.store)
    answers = [post(server, lying_jpeg(), "JPEG"), post(server, blank_png(2000, 2000, rows=8), "PNG")]
    answers += [post(server, data, "WEBP") for data in lying_webps()]
    assert [a.status_code for a in answers] == [415] * 4, [a.text for a in answers]
    assert [a.json()["error"].split(":")[0] for a in answers] == ["`photo` is incomplete"] * 2 + [
        "`photo` could not be decoded"
    ] * 2
    assert stored(server.store) == before


# --- 5. A progressive JPEG of 10,000 scans ------------------------------------------------------------------


def ten_thousand_scans() -> bytes:
    """The probe's photo: a progressive JPEG whose last scan comes 10,000 times (each costs a pass over the image's
    blocks: at 2048×2048, 28 s of decoding before on 2 cores; 512×512 here)."""
    return with_scans_repeated(encoded(Image.new("RGB", (512, 512), "grey"), "JPEG", progressive=True), 9990)


def test_a_jpeg_of_10000_scans_is_refused_before_decoding(monkeypatch):
    data = ten_thousand_scans()
    assert data.count(b"\xff\xda") == 10_000

    def no_decoding(image):
        raise AssertionError("decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    with pytest.raises(Rejected) as check:
        check_photo(data)
    assert refused(check) == (
        413,
        f"`photo` is a JPEG of more than {limits.MAX_JPEG_SCANS} scans: decoding it would take too long",
    )


def test_a_jpeg_whose_scans_decode_too_many_blocks_is_refused():
    """Fewer scans than the limit, but each over a large photo: 2048×2048 in 4:2:0 is 65536 blocks of luma and 16384
    of each chroma; libjpeg's 10 scans decode 524288 of them, 200 more of its last (luma) 65536 each."""
    data = with_scans_repeated(encoded(Image.new("RGB", (2048, 2048), "grey"), "JPEG", progressive=True), 200)
    assert data.count(b"\xff\xda") == 210 <= limits.MAX_JPEG_SCANS
    with pytest.raises(Rejected) as check:
        check_photo(data)
    assert refused(check) == (
        413,
        f"`photo` is a JPEG whose 210 scans decode 13631488 blocks of 8×8: beyond the "
        f"{limits.MAX_JPEG_SCAN_BLOCKS} limit, decoding it would take too long",
    )


@pytest.mark.parametrize("mode", ["RGB", "L", "CMYK"])
def test_ordinary_progressive_jpegs_are_accepted(mode):
    """libjpeg's own progression (10 scans in YCbCr, 6 in grey, 18 in CMYK), 1024×768."""
    photo = check_photo(encoded(noise(1024, 768, mode), "JPEG", progressive=True))
    assert (photo.extension, photo.width, photo.height) == ("jpg", 1024, 768)


def test_the_server_refuses_10000_scans_and_serves_the_next(server):
    before = stored(server.store)
    answer = post(server, ten_thousand_scans(), "JPEG")
    assert answer.status_code == 413, answer.text
    assert answer.json()["error"].startswith(f"`photo` is a JPEG of more than {limits.MAX_JPEG_SCANS} scans")
    assert stored(server.store) == before
    answer = post(server, encoded(noise(640, 480), "JPEG", progressive=True), "JPEG")
    assert answer.status_code == 201, answer.text


# --- 6. What decoding really takes ---------------------------------------------------------------------------


def probe_worst_cases() -> dict[str, tuple[bytes, str]]:
    """The probe's photos: each passed the limit as width × height × bands, and took far more."""
    return {
        "lossless RGBA WebP 4096×4095": (encoded(Image.new("RGBA", (4096, 4095)), "WEBP", lossless=True), "WEBP"),
        "progressive CMYK JPEG 2896×2896": (encoded(Image.new("CMYK", (2896, 2896)), "JPEG", progressive=True), "JPEG"),
        "LA PNG 5792×5792": (encoded(Image.new("LA", (5792, 5792)), "PNG"), "PNG"),
    }


@pytest.mark.parametrize(
    "name,megabytes",
    [("lossless RGBA WebP 4096×4095", 272), ("progressive CMYK JPEG 2896×2896", 96), ("LA PNG 5792×5792", 128)],
)
def test_what_decoding_takes_is_counted_before_decoding(name, megabytes):
    """Each was counted 64 MB or less (width × height × bands). WebP: 17 bytes a pixel (libwebp's two canvases, the
    frame as bytes, Pillow's image, the decoder's rows), 272 MB; progressive CMYK JPEG: 4 bytes a pixel and libjpeg's
    coefficients for the whole image (64 of 2 bytes a block, 4 blocks per 8×8 pixels), 96 MB; LA: 4 bytes a pixel in
    Pillow, not 2, 128 MB."""
    data, _ = probe_worst_cases()[name]
    with pytest.raises(Rejected) as check:
        check_photo(data)
    status, message = refused(check)
    assert status == 413
    assert f"decoding it would take {megabytes} MB, beyond the 64 MB limit" in message, message


def test_the_server_refuses_the_probes_worst_cases(server):
    answers = [post(server, data, image_format) for data, image_format in probe_worst_cases().values()]
    assert [a.status_code for a in answers] == [413] * 3, [a.text for a in answers]
    assert all("decoding it would take" in a.json()["error"] for a in answers)


def test_ten_concurrent_worst_cases_of_every_format_stay_under_300_mb(tmp_path):
    """The largest photo of each kind the limit accepts (tests/load.py: worst_case_photos), 10 at once, one kind
    after the other, on one server process: all stored, its peak resident memory under 300 MB."""
    photos = worst_case_photos()
    with ServerProcess(tmp_path / "store", rate_limit=0) as server:
        answers: dict[str, list[int]] = {}
        for kind, (data, image_format) in photos.items():
            answers[kind] = concurrent_uploads(server.url, data, image_format, 10)
        peak = server.peak_memory_mb()
    print(f"peak resident memory {peak:.0f} MB after 10 concurrent uploads of each of: {', '.join(photos)}")
    assert answers == {kind: [201] * 10 for kind in photos}
    assert peak <= 300


# --- The round's review: padding that is no data, repeated components, MPO, costs that grow with the file ------


def padded_in_scan(jpeg: bytes, padding: bytes) -> bytes:
    """`padding` put at the end of the JPEG's (last) scan, just before EOI."""
    return jpeg[: jpeg.rindex(b"\xff\xd9")] + padding + b"\xff\xd9"


@pytest.mark.parametrize(
    "padding", [b"\xff\xd0" * 200_000, b"\xff" * 400_000 + b"\xff\xd1" * 1000], ids=["restart markers", "fill bytes"]
)
def test_padding_that_is_no_scan_data_does_not_make_a_jpeg_complete(padding):
    data = padded_in_scan(lying_jpeg(), padding)
    with pytest.raises(Rejected) as check:
        check_photo(data)
    status, message = refused(check)
    assert status == 415 and message.startswith("`photo` is incomplete: its 4000×4000 pixels are 375000 blocks")


def test_a_jpeg_that_names_a_component_twice_is_refused():
    """libjpeg buffers each component of the frame: one id given three times would be counted once."""
    data = bytearray(encoded(noise(256, 256), "JPEG", progressive=True, subsampling=0))
    frame = data.index(b"\xff\xc2")
    for k in range(data[frame + 9]):
        data[frame + 10 + 3 * k] = 1
    with pytest.raises(Rejected) as check:
        check_photo(bytes(data))
    assert refused(check) == (415, "`photo` is a JPEG that names one colour component twice")


def test_a_phones_jpeg_with_an_mpf_index_is_accepted():
    """A JPEG with a second image after it (an MPO: a gain map, a depth map): the first image is the photo."""
    first, second = noise(320, 240, seed=1), noise(160, 120, seed=2)
    buffer = io.BytesIO()
    first.save(buffer, "MPO", save_all=True, append_images=[second])
    data = buffer.getvalue()
    assert Image.open(io.BytesIO(data)).format == "MPO"
    photo = check_photo(data)
    assert (photo.extension, photo.width, photo.height) == ("jpg", 320, 240)
    assert len(photo.data) < len(data)  # cut at the first image's end
    with Image.open(io.BytesIO(photo.data)) as stored_photo:
        assert stored_photo.size == (320, 240)


@pytest.mark.parametrize(
    "kind, message",
    [
        ("fill bytes", "`photo` is a JPEG with 5000000 bytes of padding between its segments (more than 65536)"),
        ("segments", "`photo` is a JPEG of more than 1000 segments: reading it would take too long"),
        ("png chunks", "`photo` is a PNG of more than 10000 chunks: reading it would take too long"),
    ],
)
def test_headers_that_cost_more_to_read_than_a_photo_are_refused_before_reading(kind, message):
    """Pillow reads a JPEG's fill bytes and segments and a PNG's chunks one at a time, in Python: millions of them
    cost seconds. They are counted first, in C-speed scans of the bytes."""
    jpeg = encoded(noise(64, 48), "JPEG")
    if kind == "fill bytes":
        data = jpeg[:2] + b"\xff" * 5_000_000 + jpeg[2:]
    elif kind == "segments":
        data = jpeg[:2] + b"\xff\xfe\x00\x02" * 100_000 + jpeg[2:]
    else:
        plain = encoded(noise(64, 48), "PNG")
        data = plain[:33] + png_chunk(b"tEXt", b"k\0v") * 20_000 + plain[33:]
    with pytest.raises(Rejected) as check:
        check_photo(data)
    status, text = refused(check)
    assert status == 413 and text.startswith(message), text
