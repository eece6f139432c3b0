"""Shared fixtures: real exiftool, real photos written to tmp_path, the read-only corpus."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import exiftool
import numpy as np
import pytest
from hypothesis import settings
from PIL import Image

# Property tests explore the same examples on every run (no flaky CI) and never time out on a loaded machine.
settings.register_profile("cropstyle", derandomize=True, deadline=None)
settings.load_profile("cropstyle")

PROJECT = Path(__file__).resolve().parents[1]
# The external test corpus (real files no one here wrote) lives in ../shared beside the development checkout,
# not in the repository: a clone alone skips the tests that need it, each saying so, and CI, which has it, sets
# REQUIRE_SHARED so that any such skip fails the run (pytest_sessionfinish below).
SHARED = PROJECT.parent / "shared"
CORPUS = SHARED / "corpus"
REAL_CATALOG = CORPUS / "lightroom" / "test_catalog_1.lrcat"
SHARED_SKIP = "needs ../shared"
REQUIRE_SHARED = "CROPSTYLE_REQUIRE_SHARED"


def tree_hash(folder: Path) -> str:
    """One hash of every file's path and bytes under `folder`: proof that nothing was modified."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def in_shared(path: Path) -> Path:
    """`path`, a file or folder of ../shared; the test is skipped, saying so, where there is none."""
    if not path.exists():
        pytest.skip(f"{SHARED_SKIP} (the external test corpus beside the development checkout): {path} is missing")
    return path


@pytest.fixture(scope="session")
def corpus() -> Path:
    """../shared/corpus: ExifTool's test images and a real Lightroom catalog, read only."""
    return in_shared(CORPUS)


@pytest.fixture(scope="session")
def real_catalog() -> Path:
    """A real Lightroom 5 catalog (../shared/corpus/lightroom), read only."""
    return in_shared(REAL_CATALOG)


_shared_skips: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and SHARED_SKIP in str(report.longrepr):
        _shared_skips.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """With REQUIRE_SHARED set (.ci/run sets it), a test skipped for want of ../shared fails the run."""
    if os.environ.get(REQUIRE_SHARED) and _shared_skips:
        count = f"{len(_shared_skips)} test{' was' if len(_shared_skips) == 1 else 's were'}"
        print(
            f"\n{REQUIRE_SHARED} is set, but {count} skipped for want of {SHARED}: "
            + ", ".join(_shared_skips[:5])
            + (" …" if len(_shared_skips) > 5 else "")
        )
        if session.exitstatus == pytest.ExitCode.OK:  # an interrupted or failed run keeps its own status
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def exif_writer():
    """One exiftool process for all the metadata the tests write."""
    with exiftool.ExifTool(common_args=["-charset", "filename=utf8"]) as tool:

        def write(path: Path, *assignments: str) -> None:
            tool.execute("-overwrite_original", "-q", *assignments, str(path))
            if not path.exists():
                raise RuntimeError(f"exiftool lost {path}: {tool.last_stderr}")

        yield write


def scene(width: int, height: int, seed: int = 0) -> Image.Image:
    """A photo-like test image: gradients and a few shapes, so JPEG sizes and decoding are realistic."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    pixels = np.stack([x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1), (x + y) % 256], axis=-1)
    pixels = pixels + rng.integers(0, 20, pixels.shape)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def crop_tags(left: float, top: float, right: float, bottom: float, angle: float = 0.0) -> list[str]:
    return [
        "-XMP-crs:HasCrop=True",
        f"-XMP-crs:CropLeft={left}",
        f"-XMP-crs:CropTop={top}",
        f"-XMP-crs:CropRight={right}",
        f"-XMP-crs:CropBottom={bottom}",
        f"-XMP-crs:CropAngle={angle}",
    ]


# The two collection stores: the same store, API and load tests run against both.
STORE_KINDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def postgres():
    """One throwaway PostgreSQL cluster for the session (Debian's package, run as its `postgres` user when
    we are root), started on first use, stopped at the end; each store gets its own database."""
    from tests.postgres import TemporaryPostgres

    with TemporaryPostgres() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def red_or_blue_run(tmp_path_factory) -> Path:
    """A RUN trained on a photographer who crops red photos and leaves blue ones uncropped (tests/red_or_blue.py),
    long enough for the keep-the-frame decision to be learnt."""
    from cropstyle.training.train import train
    from tests.red_or_blue import red_or_blue_dataset

    root = tmp_path_factory.mktemp("red-or-blue")
    # 640 steps: batch norm's moving statistics (momentum 0.99) must forget their start, or inference sees
    # every photo alike. One model, not the default three: the decision is the model's, and three would triple the
    # longest training of the suite (the ensemble's mean is tested in tests/test_training.py).
    return train(
        [red_or_blue_dataset(root / "train", 160, seed=0)],
        root / "run",
        epochs=40,
        patience=40,
        batch_size=8,
        image_size=32,
        seed=0,
        ensemble=1,
        verbose=0,
    ).run


@pytest.fixture(params=STORE_KINDS)
def location(request, tmp_path) -> Path | str:
    """A new, empty store of each kind in turn (a test using it runs on both stores)."""
    return new_store(request.param, tmp_path, request)


def stored_rows(location: Path | str) -> list:
    """Every correction in the store at `location`."""
    from cropstyle.web.store import open_store

    with open_store(location) as store:
        return store.all()


def new_store(kind: str, folder: Path, request: pytest.FixtureRequest) -> Path | str:
    """A new, empty store location of `kind`: a folder under `folder`, or a fresh PostgreSQL database."""
    if kind == "sqlite":
        return folder / "store"
    return request.getfixturevalue("postgres").database()
