"""Benchmark: extraction through a Lightroom catalog against the XMP route, on the same photos, same run.

    .venv/bin/python bench/lrcat_extract.py [--count 200] [--long-side 4240] [--library DIR]

The library is bench/extract.py's (cropped 12-megapixel JPEGs with their crops in XMP). A catalog holding the
same crops is written with extractor.lrcat.write_catalog; then `extract LIBRARY` and `extract CATALOG` run in
turn (page cache warm for both). Target (issue 3): the catalog route at the XMP route's speed (ratio ≈ 1).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from cropstyle.extractor.extract import extract  # noqa: E402
from cropstyle.extractor.metadata import crop_from_xmp, declared_size, metadata_tool, orientation_from_tags  # noqa: E402
from cropstyle.samples.catalog import CatalogEntry, write_catalog  # noqa: E402

sys.path.insert(0, str(PROJECT / "bench"))
from extract import jpeg_library  # noqa: E402  (bench/extract.py)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--long-side", type=int, default=4240)
    parser.add_argument("--library", type=Path, help="reuse (or keep) the generated library here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="cropstyle-bench-lrcat-") as scratch:
        work = Path(scratch)
        library = args.library or work / "library"
        photos = jpeg_library(library, args.count, args.long_side)  # bench/extract.py's, page cache warm
        with metadata_tool() as tool:
            tags = tool.read_tags(photos)
        entries = [
            CatalogEntry(p, orientation_from_tags(tags[p], tags[p]), *declared_size(tags[p]), crop_from_xmp(tags[p]))
            for p in photos
        ]
        catalog = work / "Catalog.lrcat"
        write_catalog(catalog, entries)

        started = time.perf_counter()
        xmp = extract([library], work / "dataset-xmp", progress=False)
        xmp_seconds = time.perf_counter() - started
        started = time.perf_counter()
        lrcat = extract([catalog], work / "dataset-lrcat", progress=False)
        lrcat_seconds = time.perf_counter() - started
        assert xmp.extracted == lrcat.extracted == len(photos), (xmp.report(), lrcat.report())

    figures = {
        "photos": len(photos),
        "xmp_photos_per_s": round(len(photos) / xmp_seconds, 1),
        "lrcat_photos_per_s": round(len(photos) / lrcat_seconds, 1),
        "lrcat_vs_xmp": round(xmp_seconds / lrcat_seconds, 2),
    }
    print(f"XMP route      {figures['xmp_photos_per_s']:7.1f} photos/s")
    print(
        f"catalog route  {figures['lrcat_photos_per_s']:7.1f} photos/s = {figures['lrcat_vs_xmp']:.2f}× the XMP route"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
