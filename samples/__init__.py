"""Synthetic photos, libraries and datasets whose crops are known: for the demo (`cropstyle sample-library`),
the tests and the benchmarks. The product's stages never import this package.

scenes.py    photo-like scenes drawn at any size
styles.py    photographers' crop styles and the scenes they compose: classic and the style zoo (STYLES)
library.py   a library written as Lightroom writes one (XMP, sidecars, raws, a catalog), with truth.csv
catalog.py   Lightroom catalogs written from a real one's schema
dataset.py   a small dataset in the extractor's format, written directly

(The server's load generator and the throwaway PostgreSQL are test code: tests/load.py, tests/postgres.py.)
"""
