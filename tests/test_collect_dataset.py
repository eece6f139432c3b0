"""`cropstyle collected STORE --out DATASET`: corrections sent to a real server become a standard dataset,
from either store (a folder, a PostgreSQL URL)."""

from __future__ import annotations

import json

import httpx
import pandas as pd
import pytest
from PIL import Image

from cropstyle.extractor.dataset import LABEL_COLUMNS
from cropstyle.extractor.geometry import LABEL_VALUES, Crop, RotatedRect, rect_to_crop
from cropstyle.web.collected import collected
from tests.conftest import STORE_KINDS, new_store
from tests.load import ServerProcess, photo_bytes, submit


def as_json(crop: Crop) -> dict:
    return dict(zip(LABEL_VALUES, crop.values()))


@pytest.fixture(scope="module", params=STORE_KINDS)
def store_with_corrections(request, tmp_path_factory):
    root = tmp_path_factory.mktemp("collect")
    store = new_store(request.param, root, request)
    turned = rect_to_crop(RotatedRect(300, 400, 400, 500, 7.5), 600, 800)  # displayed frame of the EXIF-6 photo
    sent = []
    with ServerProcess(store, rate_limit=0) as server, httpx.Client(timeout=30) as client:
        for photo, crop in [
            (photo_bytes(800, 600, seed=1, orientation=6), turned),  # stored 800×600, displayed 600×800
            (photo_bytes(1024, 576, seed=2), Crop(0.1, 0.05, 0.8, 0.95, 0.0)),
            (photo_bytes(400, 400, seed=3, fmt="PNG"), Crop(0.2, 0.2, 0.9, 0.9, -3.0)),
        ]:
            response = submit(client, server.url, photo, as_json(crop))
            assert response.status_code == 201, response.text
            sent.append((response.json()["id"], crop))
        # The PNG corrected again: the later correction is its label.
        later = Crop(0.25, 0.2, 0.95, 0.9, -2.0)
        response = submit(client, server.url, photo_bytes(400, 400, seed=3, fmt="PNG"), as_json(later))
        assert response.status_code == 201
        sent[2] = (response.json()["id"], later)
    return root, store, sent


def test_collected_writes_the_standard_format(store_with_corrections):
    root, store, sent = store_with_corrections
    out = root / "dataset"
    summary = collected(store, out)
    assert (summary.corrections, summary.written, summary.superseded) == (4, 3, 1)
    labels = pd.read_csv(out / "labels.csv")
    assert list(labels.columns) == LABEL_COLUMNS
    assert len(labels) == 3 and set(labels["origin"]) == {"collected"}
    assert labels["has_crop"].all()
    by_fingerprint = {row.fingerprint: row for row in labels.itertuples()}
    expected_sizes = [(600, 800, 6), (1024, 576, 1), (400, 400, 1)]
    for (identifier, crop), (width, height, orientation) in zip(sent, expected_sizes):
        row = by_fingerprint[f"collected:{identifier}"]
        assert Crop(row.left, row.top, row.right, row.bottom, row.angle) == crop  # exact: repr round-trips
        assert (row.width, row.height, row.orientation) == (width, height, orientation)
        with Image.open(out / row.image) as image:  # the training image: as displayed, long side ≤ 512
            assert image.format == "JPEG"
            assert max(image.size) == min(512, max(width, height))
            assert image.size[0] / image.size[1] == pytest.approx(width / height, abs=0.01)

    again = collected(store, out)
    assert (again.written, again.unchanged, again.labels_total) == (0, 3, 3)
    print(summary.report())


def test_training_reads_collected_with_another_dataset(store_with_corrections, tmp_path):
    """`cropstyle train LIBRARY_DATASET COLLECTED_DATASET`: both load as one set of examples and train."""
    from cropstyle.samples.dataset import write_dataset
    from cropstyle.training import pipeline
    from cropstyle.training.train import train

    root, store, _ = store_with_corrections
    out = tmp_path / "collected"
    collected(store, out)
    library = write_dataset(tmp_path / "library", 16, seed=3)
    examples = pipeline.read_examples([library, out])
    assert len(examples.labels) == 19
    assert (examples.frame["origin"] == "collected").sum() == 3
    result = train([library, out], tmp_path / "run", epochs=1, batch_size=8, image_size=32, verbose=0)
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert len(config["datasets"]) == 2 and result.epochs == 3  # 1 for each of the default ensemble's 3 models
