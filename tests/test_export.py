"""`cropstyle export`: Keras → SavedModel → TF.js graph model, metadata.json, and parity in node (wasm)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from cropstyle.export import webmodel
from cropstyle.export.inference import load_model_input, preprocess
from cropstyle.training import pipeline
from cropstyle.training.run import Run
from tests.conftest import PROJECT
from tests.test_export_support import IMAGE_SIZE, crop_model, exported, trained_run


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return trained_run(tmp_path_factory)


@pytest.mark.parametrize("quantize", ["none", "float16", "uint8"])
def test_export_parity_and_files(tmp_path_factory, quantize):
    report = exported(tmp_path_factory, quantize)
    out = report.out
    assert (out / "model.json").is_file() and (out / "metadata.json").is_file()
    shards = sorted(out.glob("group*-shard*of*.bin"))
    assert shards and report.files == {p.name: p.stat().st_size for p in [out / "model.json", *shards]}
    assert report.total_bytes == sum(report.files.values())
    tolerance = {"none": 1e-4, "float16": 1e-2, "uint8": 1e-2}[quantize]
    assert report.passed and report.max_abs_diff <= tolerance
    # Every output in its own unit: corners as fractions of the frame, the angle in degrees.
    assert list(report.by_output) == ["left", "top", "right", "bottom", "angle", "confidence"]
    assert report.max_abs_diff == max(report.by_output.values())
    assert report.n_inputs >= webmodel.PARITY_RANDOM + 1  # random inputs and the RUN's validation photos


def test_quantized_sizes(tmp_path_factory):
    reports = {q: exported(tmp_path_factory, q) for q in ("none", "float16", "uint8")}
    # The weight shards (model.json, the graph, is the same size whatever the quantization).
    shards = {q: sum(size for name, size in r.files.items() if name != "model.json") for q, r in reports.items()}
    weights = crop_model(tmp_path_factory).keras_model.count_params() * 4
    assert reports["none"].total_bytes > shards["none"] >= 0.9 * weights  # float32 weights (BN folded) + model.json
    assert shards["float16"] < 0.55 * shards["none"]
    assert shards["uint8"] < 0.35 * shards["none"]  # 1 byte a weight, plus per-tensor scales and offsets
    assert reports["uint8"].total_bytes < 2_000_000


def test_metadata(tmp_path_factory, run):
    report = exported(tmp_path_factory, "uint8")
    metadata = json.loads((report.out / "metadata.json").read_text())
    config = json.loads((run / "config.json").read_text())
    assert metadata["format"] == "cropstyle-webmodel" and metadata["format_version"] == 2
    assert metadata["model_sha256"] == Run.open(run).model_sha256
    assert metadata["model_version"] == metadata["model_sha256"][:16]
    assert metadata["quantization"] == "uint8"
    # The names TF.js gives the graph's tensors (checked in node by the export).
    assert metadata["inputs"] == {
        "image": {"name": "image", "dtype": "float32", "shape": [-1, IMAGE_SIZE, IMAGE_SIZE, 3]},
        "aspect": {"name": "aspect", "dtype": "float32", "shape": [-1, 1]},
    }
    assert metadata["outputs"]["crop"]["shape"] == [-1, 6] and metadata["outputs"]["crop"]["name"]
    prep = metadata["preprocessing"]
    assert prep == config["preprocessing"]  # one description, the RUN's, verbatim
    assert prep["image_size"] == IMAGE_SIZE
    assert prep["resize"] == {
        "method": "bilinear",
        "keep_aspect_ratio": False,
        "half_pixel_centers": True,
        "align_corners": False,
        "antialias": False,
    }
    assert prep["scale"] == 1 / 255 and prep["value_range"] == [0, 1] and prep["channel_order"] == "RGB"
    assert prep["source_long_side"] == 96  # the training images' long side (tests/test_export_support.py)
    assert prep["decode"]["long_side"] == 96 and prep["decode"]["resample"] == "bicubic"  # as extractor.pixels
    assert metadata["output"]["values"] == ["left", "top", "right", "bottom", "angle", "confidence"]
    # The page says "unsure" below the RUN's calibrated threshold, read from here.
    assert metadata["confidence"]["unsure_below"] == config["confidence"]["unsure_below"]
    assert metadata["confidence"]["validation"] == config["confidence"]["validation"]
    assert metadata["output"]["frame"] == "displayed" and metadata["output"]["convention"] == "lightroom-corners"
    # The default RUN is an ensemble of 3: its exact figure and its members'.
    validation = metadata["validation"]
    assert validation["val_crop_iou"] == config["validation"]["val_crop_iou"] and 0 <= validation["val_crop_iou"] <= 1
    assert validation["members_val_crop_iou"] == config["validation"]["members_val_crop_iou"]
    assert len(validation["members_val_crop_iou"]) == 3 and validation["model"] == "mean of 3 members' best epochs"
    assert validation["n_val"] == config["split"]["val"]
    assert metadata["parity"]["passed"] and metadata["parity"]["max_abs_diff"] == report.max_abs_diff
    assert "wasm" in metadata["parity"]["runtime"]
    assert metadata["files"] == report.files and metadata["total_bytes"] == report.total_bytes
    graph = json.loads((report.out / "model.json").read_text())
    assert graph["format"] == "graph-model"
    quantized = [w for g in graph["weightsManifest"] for w in g["weights"] if "quantization" in w]
    assert quantized and all(w["quantization"]["dtype"] == "uint8" for w in quantized)
    # This small model keeps parity in plain uint8 (half the tolerance): nothing promoted to uint16.
    assert report.uint16 == [] and "uint16" not in metadata["weights"]["by_dtype"]
    assert metadata["weights"]["by_dtype"]["uint8"]["tensors"] == len(quantized)
    assert min(w_values(w) for w in quantized) >= webmodel.UINT8_MIN_VALUES
    choice = metadata["weights"]["uint8_choice"]
    assert choice["target"] == 5e-3 and choice["trials"] == [{"uint16": [], "max_abs_diff": report.max_abs_diff}]


def w_values(weight: dict) -> int:
    return int(np.prod(weight["shape"]))


@pytest.mark.parametrize("steps", [webmodel.PROMOTION_STEPS, 1])
def test_uint8_promotes_tensors_to_uint16_until_parity_reaches_the_target(
    tmp_path_factory, tmp_path, monkeypatch, steps
):
    """A target tighter than plain uint8 reaches: the export keeps the tensors it must in uint16, measured;
    after `steps` single promotions it promotes the rest at once."""
    monkeypatch.setattr(webmodel, "PROMOTION_STEPS", steps)
    plain_uint8 = exported(tmp_path_factory, "uint8").max_abs_diff
    target = plain_uint8 / 20
    report = webmodel.export_webmodel(trained_run(tmp_path_factory), tmp_path / "webmodel", "uint8", target=target)
    assert report.max_abs_diff <= target
    choice = report.metadata["weights"]["uint8_choice"]
    trials = choice["trials"]
    assert trials[0] == {"uint16": [], "max_abs_diff": plain_uint8}  # the same plain uint8 model, measured again
    assert trials[-1] == {"uint16": report.uint16, "max_abs_diff": report.max_abs_diff}
    assert all(trial["max_abs_diff"] > target for trial in trials[:-1])  # it stops as soon as it reaches it
    for step, (before, after) in enumerate(zip(trials, trials[1:])):  # the earlier promotions kept
        assert after["uint16"][: len(before["uint16"])] == before["uint16"]
        assert len(after["uint16"]) == len(before["uint16"]) + 1 or step == steps  # one tensor per step
    graph = json.loads((report.out / "model.json").read_text())
    stored = {w["name"]: w.get("quantization", {}).get("dtype") for g in graph["weightsManifest"] for w in g["weights"]}
    assert sorted(name for name, dtype in stored.items() if dtype == "uint16") == sorted(report.uint16)
    assert len(trials) <= steps + 2
    if len(trials) == steps + 2:  # the last step promoted every tensor left
        assert "uint8" not in stored.values() and len(trials[-1]["uint16"]) > len(trials[-2]["uint16"]) + 1
    assert report.metadata["weights"]["by_dtype"]["uint16"]["tensors"] == len(report.uint16)
    assert report.total_bytes > exported(tmp_path_factory, "uint8").total_bytes


def test_quantized_weights_are_written_as_the_converter_writes_them(tmp_path_factory, tmp_path):
    """write_graph_model (plain graph + the converter's weight writer) == the converter run with quantization."""
    from cropstyle.export.tfjs_shims import tfjs_converters

    model = crop_model(tmp_path_factory)
    model.keras_model.export(str(tmp_path / "saved_model"), format="tf_saved_model", verbose=False)
    convert = tfjs_converters().convert_tf_saved_model
    convert(
        str(tmp_path / "saved_model"),
        str(tmp_path / "plain"),
        signature_def="serving_default",
        saved_model_tags="serve",
    )
    large = webmodel._large_weights(tmp_path / "plain" / "model.json")
    dtype_map = {"uint8": list(large)[1:], "uint16": list(large)[:1]}
    convert(
        str(tmp_path / "saved_model"),
        str(tmp_path / "converter"),
        signature_def="serving_default",
        saved_model_tags="serve",
        quantization_dtype_map=dtype_map,
    )
    webmodel.write_graph_model(tmp_path / "plain", tmp_path / "ours", dtype_map)
    names = sorted(path.name for path in (tmp_path / "converter").iterdir())
    assert names == sorted(path.name for path in (tmp_path / "ours").iterdir())
    assert json.loads((tmp_path / "ours" / "model.json").read_text()) == json.loads(
        (tmp_path / "converter" / "model.json").read_text()
    )
    for name in names:
        if name.endswith(".bin"):
            assert (tmp_path / "ours" / name).read_bytes() == (tmp_path / "converter" / name).read_bytes()


def test_tfjs_runs_what_keras_runs_on_real_photos(tmp_path_factory, tmp_path):
    """Node + wasm on fresh inputs, batch and single photo, against the shared inference function."""
    report = exported(tmp_path_factory, "none")
    model = crop_model(tmp_path_factory)
    rng = np.random.default_rng(42)
    images = rng.uniform(0, 1, (3, IMAGE_SIZE, IMAGE_SIZE, 3)).astype(np.float32)
    aspects = np.array([0.5, 1.0, 2.5], np.float32)
    (node,) = webmodel.run_tfjs([report.out], images, aspects, tmp_path)
    assert node["backend"] == "wasm" and node["tfjs_version"] == "4.22.0"
    assert node["inputs"] == ["image", "aspect"]
    np.testing.assert_allclose(node["result"], model.predict_arrays(images, aspects), atol=1e-4)
    single, again = webmodel.run_tfjs([report.out, report.out], images[1:2], aspects[1:2], tmp_path)
    np.testing.assert_allclose(single["result"], node["result"][1:2], atol=1e-5)
    assert again["result"] == single["result"]  # several models in one node process do not disturb each other


def test_one_model_exports_with_its_best_epoch(run, tmp_path):
    """An --ensemble 1 RUN (one member) exports like the default ensemble: one TF.js graph that runs what Keras runs,
    and the metadata gives the best epoch of its history."""
    from cropstyle.export.inference import load_crop_model
    from cropstyle.training.train import train

    dataset = Path(json.loads((run / "config.json").read_text())["datasets"][0]["path"])
    single = train(
        [dataset], tmp_path / "run", epochs=2, batch_size=8, image_size=IMAGE_SIZE, seed=0, ensemble=1, verbose=0
    ).run
    report = webmodel.export_webmodel(single, tmp_path / "web", "none")
    assert report.passed and report.max_abs_diff <= 1e-4
    images = np.random.default_rng(7).uniform(0, 1, (2, IMAGE_SIZE, IMAGE_SIZE, 3)).astype(np.float32)
    aspects = np.array([0.75, 1.5], np.float32)
    (node,) = webmodel.run_tfjs([report.out], images, aspects, tmp_path)
    np.testing.assert_allclose(node["result"], load_crop_model(single).predict_arrays(images, aspects), atol=1e-4)
    validation = json.loads((report.out / "metadata.json").read_text())["validation"]
    history = pd.read_csv(single / "members" / "0" / "history.csv")
    (best,) = validation["members"]
    assert best["epoch"] == int(history.loc[history["val_crop_iou"].idxmax(), "epoch"])
    assert best["val_crop_iou"] == validation["members_val_crop_iou"][0] == pytest.approx(history["val_crop_iou"].max())
    assert validation["val_crop_iou"] == pytest.approx(history["val_crop_iou"].max(), abs=1e-6)
    assert validation["members_kept"] == [0] and validation["model"] == "best epoch"


def test_preprocessing_is_the_training_pipelines(tmp_path_factory, run):
    """predict's preprocessing gives exactly training/pipeline.load_image's input for a dataset image."""
    config = json.loads((run / "config.json").read_text())
    dataset = config["datasets"][0]["path"]
    image_path = sorted((Path(dataset) / "images").glob("*.jpg"))[0]
    expected = pipeline.load_image(tf.constant(str(image_path)), IMAGE_SIZE).numpy()
    decoded = tf.io.decode_jpeg(tf.io.read_file(str(image_path)), channels=3).numpy()
    np.testing.assert_array_equal(preprocess(decoded, IMAGE_SIZE), expected)
    # Pillow's JPEG decoder (predict's, as the extractor's) against TF's (training's): a few levels apart at
    # most (different IDCT and chroma upsampling), nothing else.
    via_pillow = load_model_input(image_path, 1, IMAGE_SIZE).image
    assert np.abs(via_pillow - expected).max() <= 5 / 255
    assert np.abs(via_pillow - expected).mean() <= 1 / 255


def test_bad_quantize_and_missing_run(tmp_path):
    with pytest.raises(ValueError, match="--quantize"):
        webmodel.export_webmodel(tmp_path, tmp_path / "out", "int4")
    with pytest.raises(FileNotFoundError, match="config.json"):
        webmodel.export_webmodel(tmp_path, tmp_path / "out")


def test_tfjs_shims_leave_keras_alone():
    """The converter imports in a fresh process; afterwards no stub is visible and Keras still works."""
    code = textwrap.dedent("""
        import sys
        from cropstyle.export.tfjs_shims import tfjs_converters
        converters = tfjs_converters()
        assert callable(converters.convert_tf_saved_model)
        assert "tensorflow_decision_forests" not in sys.modules
        assert "jax" not in sys.modules
        import keras.callbacks, keras.src.callbacks.orbax_checkpoint
        print("ok")
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=str(PROJECT))
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("ok")
