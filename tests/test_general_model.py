"""The general model shipped in training/general_model (made by `make general-model` from FCDB, which the tests never
read): small files, a model card, and every command that takes a RUN takes `general`; `serve` serves it by
default."""

from __future__ import annotations

import json

import httpx
import pytest

from cropstyle import cli
from cropstyle.extractor.geometry import LABEL_VALUES, Crop, crop_problem
from cropstyle.training.evaluate import evaluate
from cropstyle.training.general import GENERAL_MODEL, MAX_FILE_BYTES
from cropstyle.training.run import Run
from tests.load import DEFAULT_MODEL, ServerProcess
from tests.red_or_blue import red_or_blue_dataset
from tests.test_export_support import oriented_photo, photo_scene


def test_the_shipped_files_are_small_and_carry_a_model_card():
    files = [path for path in GENERAL_MODEL.rglob("*") if path.is_file()]
    assert {path.relative_to(GENERAL_MODEL).as_posix() for path in files} >= {
        "config.json",
        "split.json",
        "baselines.json",
        "MODEL_CARD.md",
        "members/0/model.keras",
        "web/model.json",
        "web/metadata.json",
    }
    assert all(path.stat().st_size <= MAX_FILE_BYTES for path in files)
    assert not any(path.suffix.lower() in (".jpg", ".jpeg", ".png") for path in files)  # FCDB's photos never ship
    card = (GENERAL_MODEL / "MODEL_CARD.md").read_text()
    for needed in ("Flickr Cropping Dataset", "MIT", "Flickr owners", "make general-model", "--start general"):
        assert needed in card
    config = Run.open(GENERAL_MODEL).config
    assert config["split"]["train"] + config["split"]["val"] == 1335  # every photo of FCDB's training split
    assert f"{config['validation']['val_crop_iou']:.3f}" in card


def test_the_browser_model_is_the_runs():
    metadata = json.loads((GENERAL_MODEL / "web" / "metadata.json").read_text())
    run = Run.open(GENERAL_MODEL)
    assert metadata["format_version"] == 2 and metadata["parity"]["passed"]
    assert metadata["model_sha256"] == run.model_sha256  # made from the members shipped beside it
    assert metadata["preprocessing"] == run.preprocessing
    # Its confidence, calibrated on its validation photos, is the page's: the same threshold for "unsure".
    assert metadata["output"]["values"] == [*LABEL_VALUES, "confidence"]
    assert metadata["confidence"]["unsure_below"] == run.calibration.unsure_below
    assert run.calibration.fitted_on == run.config["split"]["val"]
    assert run.calibration.validation["expected_iou"] == pytest.approx(run.config["validation"]["val_crop_iou"])


def test_predict_takes_general_for_a_run(tmp_path, capsys):
    photo = oriented_photo(tmp_path / "p.jpg", photo_scene(300, 200, 5), 6)
    assert cli.main(["predict", "general", str(photo), "--format", "json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    crop = Crop(*(row[k] for k in LABEL_VALUES))
    assert (row["width"], row["height"]) == (300, 200) and crop_problem(crop, 300, 200) is None
    assert 0 < row["confidence"] < 1 and row["unsure"] is (
        row["confidence"] < Run.open(GENERAL_MODEL).calibration.unsure_below
    )


def test_serve_serves_the_general_model_by_default(tmp_path):
    metadata = json.loads((GENERAL_MODEL / "web" / "metadata.json").read_text())
    with ServerProcess(tmp_path / "store", model=DEFAULT_MODEL) as server:
        answer = httpx.get(f"{server.url}/api/model", timeout=30).json()
    assert answer["metadata"]["model_sha256"] == metadata["model_sha256"]


@pytest.mark.parametrize("command", ["evaluate", "export", "apply"])
def test_every_command_that_takes_a_run_takes_general(command):
    arguments = {"evaluate": ["general", "dataset"], "export": ["general", "--out", "web"], "apply": ["general", "p"]}
    assert cli.build_parser().parse_args([command, *arguments[command]]).run == GENERAL_MODEL


def test_evaluating_the_general_model_writes_nothing_into_the_package(tmp_path):
    """A user's RUN keeps its last evaluation (RUN/evaluation.json, for the export's metadata); the shipped model's
    folder is the package's, read-only once installed."""
    before = {path: path.stat().st_mtime_ns for path in GENERAL_MODEL.rglob("*")}
    dataset = red_or_blue_dataset(tmp_path / "dataset", 6, seed=3)
    figures = evaluate(GENERAL_MODEL, [dataset], tmp_path / "report", verbose=False)
    assert figures["n"] == 6 and (tmp_path / "report" / "metrics.json").is_file()
    assert {path: path.stat().st_mtime_ns for path in GENERAL_MODEL.rglob("*")} == before
    assert Run.open(GENERAL_MODEL).evaluation is None
