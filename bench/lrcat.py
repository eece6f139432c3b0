"""Benchmark: read a 100,000-image Lightroom catalog with extractor.lrcat.read_catalog (run on demand, not a test).

    .venv/bin/python bench/lrcat.py [--images 100000] [--texts unique|repeated] [--xmp text|zlib] [--keep DIR]

Builds the catalog in a temporary folder by duplicating the rows of the real Lightroom 5 catalog (2 raw photos,
2 re-imported exports), then reads it in a fresh process and prints wall time and peak memory:
- `--texts unique` (default) gives every photo its own develop text (a crop whose value depends on the row), so
  nothing is served from the reader's cache of recent texts: the worst case, every text parsed;
- `--texts repeated` keeps the duplicated texts as they are (4 distinct texts), as in a catalog of untouched photos;
- `--xmp zlib` stores the XMP as Lightroom Classic does (4-byte length + zlib) instead of Lightroom 5's plain text.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cropstyle.extractor.lrcat import _open_private_copy, _photo_query, read_catalog  # noqa: E402
from cropstyle.samples.catalog import encode_xmp_blob  # noqa: E402

REFERENCE_CATALOG = ROOT.parent / "shared" / "corpus" / "lightroom" / "test_catalog_1.lrcat"  # read only

STRIDE = 100  # the real catalog's ids are below 100: copy k of row id is id + k * STRIDE


def build(path: Path, images: int, texts: str, xmp: str) -> None:
    shutil.copyfile(REFERENCE_CATALOG, path)
    path.chmod(0o644)
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=OFF")
    connection.execute("PRAGMA synchronous=OFF")
    (real,) = connection.execute("SELECT count(*) FROM Adobe_images").fetchone()
    copies = -(-images // real)  # each real photo `copies` times, k = 0 being the original row
    connection.execute("BEGIN")
    series = f"WITH RECURSIVE n(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM n WHERE k < {copies - 1}) "
    connection.execute(
        series + "INSERT INTO AgLibraryFile (id_local, id_global, baseName, extension, folder, idx_filename, "
        "lc_idx_filename, lc_idx_filenameExtension, originalFilename) "
        f"SELECT f.id_local + k * {STRIDE}, f.id_global || '-' || k, f.baseName || '_' || k, f.extension, f.folder, "
        "f.baseName || '_' || k || '.' || f.extension, lower(f.baseName || '_' || k || '.' || f.extension), "
        "f.lc_idx_filenameExtension, f.originalFilename FROM AgLibraryFile f, n"
    )
    columns = [row[1] for row in connection.execute("PRAGMA table_info(Adobe_images)")]
    shifted = {
        "id_local": f"i.id_local + k * {STRIDE}",
        "id_global": "i.id_global || '-' || k",
        "rootFile": f"i.rootFile + k * {STRIDE}",
    }
    connection.execute(
        series + f"INSERT INTO Adobe_images ({', '.join(columns)}) "
        f"SELECT {', '.join(shifted.get(c, 'i.' + c) for c in columns)} FROM Adobe_images i, n"
    )
    anchor = "'ConvertToGrayscale = false,' || char(10)"
    text = (
        f"replace(d.text, {anchor}, {anchor} || 'CropLeft = 0.' || k || ',' || char(10))"
        if texts == "unique"
        else "d.text"
    )
    connection.execute(
        series + "INSERT INTO Adobe_imageDevelopSettings (id_local, croppedHeight, croppedWidth, digest, image, "
        f"processVersion, settingsID, text) SELECT d.id_local + k * {STRIDE}, d.croppedHeight, d.croppedWidth, "
        f"d.digest, d.image + k * {STRIDE}, d.processVersion, d.settingsID, {text} "
        "FROM Adobe_imageDevelopSettings d, n"
    )
    connection.execute(
        series + "INSERT INTO Adobe_AdditionalMetadata (id_local, id_global, image, xmp) "
        f"SELECT a.id_local + k * {STRIDE}, a.id_global || '-' || k, a.image + k * {STRIDE}, a.xmp "
        "FROM Adobe_AdditionalMetadata a, n"
    )
    if xmp == "zlib":
        ids = [
            row_id
            for (row_id,) in connection.execute("SELECT id_local FROM Adobe_AdditionalMetadata ORDER BY id_local")
        ]
        for start in range(0, len(ids), 1000):  # in batches: the measuring process inherits this one's peak RSS
            batch = connection.execute(
                "SELECT id_local, xmp FROM Adobe_AdditionalMetadata WHERE id_local BETWEEN ? AND ?",
                (ids[start], ids[min(start + 999, len(ids) - 1)]),
            ).fetchall()
            connection.executemany(
                "UPDATE Adobe_AdditionalMetadata SET xmp = ? WHERE id_local = ?",
                [(encode_xmp_blob(value), row_id) for row_id, value in batch],
            )
    connection.execute("COMMIT")
    connection.close()


def peak_rss_mib() -> float:
    """This process's peak resident memory. VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent
    through fork and exec, so it would report the builder's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(path: Path) -> dict:
    """Run in a fresh process, so that its peak RSS is the reader's alone."""
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as workdir:
        connection = _open_private_copy(path, Path(workdir))
        copied = time.perf_counter()
        rows = sum(1 for _ in connection.execute(_photo_query(connection, path)))
        connection.close()
    joined = time.perf_counter()

    reading, reading_cpu = time.perf_counter(), time.process_time()
    count = crops = exports = 0
    for photo in read_catalog(path):
        count += 1
        crops += photo.crop is not None
        exports += photo.already_applied
    read, read_cpu = time.perf_counter() - reading, time.process_time() - reading_cpu
    rss_mib = peak_rss_mib()

    # Python-heap peak while streaming (tracemalloc slows the loop down, so it is timed apart above).
    tracemalloc.start()
    for _ in read_catalog(path):
        pass
    _, heap_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "photos": count,
        "crops": crops,
        "exports": exports,
        "rows_joined": rows,
        "copy_s": copied - start,
        "sql_join_s": joined - copied,
        "read_catalog_s": read,
        "read_catalog_cpu_s": read_cpu,
        "peak_rss_mib": rss_mib,
        "python_heap_peak_mib": heap_peak / 2**20,
        "load": " ".join(f"{value:.1f}" for value in os.getloadavg()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--texts", choices=("unique", "repeated"), default="unique")
    parser.add_argument("--xmp", choices=("text", "zlib"), default="text")
    parser.add_argument("--keep", type=Path, help="build the catalog in this folder and keep it")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"bench_{args.images}_{args.texts}_{args.xmp}.lrcat"
        path.unlink(missing_ok=True)
        started = time.perf_counter()
        build(path, args.images, args.texts, args.xmp)
        print(f"built {path.name}: {path.stat().st_size / 2**20:.0f} MiB in {time.perf_counter() - started:.1f} s")
        output = subprocess.run(
            [sys.executable, __file__, "--measure", str(path)], check=True, capture_output=True, text=True
        ).stdout
        figures = json.loads(output)
        print(
            f"{figures['photos']} photos ({figures['crops']} with a crop, {figures['exports']} exports), "
            f"texts {args.texts}, XMP {args.xmp}"
        )
        print(f"  private copy of the catalog: {figures['copy_s']:.2f} s")
        print(f"  SQL join, all rows streamed: {figures['sql_join_s']:.2f} s")
        print(
            f"  read_catalog:                {figures['read_catalog_s']:.2f} s wall "
            f"({figures['read_catalog_s'] / figures['photos'] * 1e6:.0f} µs a photo), "
            f"{figures['read_catalog_cpu_s']:.2f} s CPU"
        )
        print(f"  (wall times suffer when other processes share the cores; load average {figures['load']})")
        print(f"  peak RSS:                    {figures['peak_rss_mib']:.0f} MiB")
        print(f"  Python heap peak (tracemalloc) while streaming: {figures['python_heap_peak_mib']:.1f} MiB")


if __name__ == "__main__":
    main()
