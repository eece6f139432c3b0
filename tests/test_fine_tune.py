"""Where training starts (training/fine_tune.py): the general model's members, another RUN's, or scratch."""

import json
from pathlib import Path

import keras
import numpy as np
import pytest

from cropstyle.training import crop_tf, metrics, pipeline
from cropstyle.training.fine_tune import Start, load_start, resolve_start, starts_to_compare
from cropstyle.training.general import GENERAL_MODEL
from cropstyle.training.model import build_model, training_view
from cropstyle.training.train import train
from tests.test_training import sample_dataset


def weights_of(model: keras.Model) -> list[np.ndarray]:
    return [keras.ops.convert_to_numpy(w) for w in model.weights]


@pytest.mark.parametrize("keep_from, keep_to", [(False, True), (True, False), (True, True)])
def test_load_start_copies_every_weight_and_the_heads_crop_columns(tmp_path, keep_from, keep_to):
    keras.utils.set_random_seed(1)
    start = training_view(build_model("separable", 32, keep_decision=keep_from))
    for weight in start.weights:  # away from any initial value, so that a weight left uncopied shows
        weight.assign(np.random.default_rng(len(weight.path)).normal(size=weight.shape).astype("float32"))
    start.save(tmp_path / "start.keras")
    keras.utils.set_random_seed(2)
    model = training_view(build_model("separable", 32, keep_decision=keep_to))
    before = {w.path: keras.ops.convert_to_numpy(w) for w in model.weights}

    load_start(model, tmp_path / "start.keras")

    for ours, theirs in zip(model.weights, weights_of(start)):
        ours = keras.ops.convert_to_numpy(ours)
        if ours.shape == theirs.shape:
            np.testing.assert_array_equal(ours, theirs)
        else:  # the head's last layer: the crop's five columns copied, the decision's own column as it was
            np.testing.assert_array_equal(ours[..., :5], theirs[..., :5])
    raw = model.get_layer("raw")
    if keep_to and not keep_from:
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(raw.bias)[5], before[raw.bias.path][5])
        assert keras.ops.convert_to_numpy(raw.bias)[5] == pytest.approx(-2.0)


def test_load_start_refuses_another_architecture(tmp_path):
    training_view(build_model("compact", 32)).save(tmp_path / "compact.keras")
    model = training_view(build_model("separable", 32))
    earlier = r"\(another design of model, such as one trained by an earlier cropstyle\)"
    with pytest.raises(
        ValueError, match=rf"^cannot start from .*compact\.keras: \d+ weights against this model's \d+ {earlier}$"
    ):
        load_start(model, tmp_path / "compact.keras")


@pytest.fixture(scope="module")
def scratch_run(tmp_path_factory) -> Path:
    """One model from scratch at 32 px, one epoch: a RUN to start from, of another input size than the general's."""
    base = tmp_path_factory.mktemp("scratch")
    dataset = sample_dataset(base, 24, seed=3)
    return train([dataset], base / "run", epochs=1, batch_size=8, image_size=32, ensemble=1, verbose=0).run


def test_resolve_start(scratch_run):
    assert resolve_start("scratch", None, 96, 10) == Start((), "separable", "from scratch")
    general = resolve_start("general", None, 96, 400)
    assert general.described == "from the general model"
    assert general.members == tuple(GENERAL_MODEL / "members" / str(k) / "model.keras" for k in range(3))
    assert general.arch == "pretrained"  # without --arch, the start's architecture
    assert resolve_start("general", "pretrained", 96, 400) == general
    # auto, the default: the general model for fewer than 100 photos (from 25 train() compares it with scratch:
    # starts_to_compare), scratch (with separable) from 100 on.
    assert resolve_start("auto", None, 96, 24) == general
    assert resolve_start("auto", None, 96, 99) == general
    assert resolve_start("auto", None, 96, 100) == Start(
        (), "separable", "from scratch (100 photos: from 100 on, scratch learns a habit better)"
    )
    assert resolve_start("auto", "compact", 96, 400).arch == "compact"
    # The general model where it does not fit: from scratch, saying why.
    assert resolve_start("general", None, 64, 10) == Start(
        (),
        "separable",
        "from scratch (not from the general model: its model is pretrained at 96 px, this run's pretrained at 64 px)",
    )
    assert resolve_start("auto", "separable", 96, 10) == Start(
        (),
        "separable",
        "from scratch (not from the general model: its model is pretrained at 96 px, this run's separable at 96 px)",
    )
    ours = resolve_start(str(scratch_run), None, 32, 400)
    assert ours.members == (scratch_run / "members/0/model.keras",) and ours.arch == "separable"


@pytest.mark.parametrize(
    "start, arch, size, message",
    [
        ("{missing}", "separable", 32, "--start {missing}: no trained RUN there (no {missing}/config.json)"),
        (
            "{run}",
            "separable",
            96,
            "--start {run}: cannot start from that RUN: its model is separable at 32 px, this run's separable at 96 px",
        ),
        (
            "{run}",
            "pretrained",
            32,
            "--start {run}: cannot start from that RUN: its model is separable at 32 px, "
            "this run's pretrained at 32 px",
        ),
    ],
)
def test_resolve_start_refuses(scratch_run, tmp_path, start, arch, size, message):
    names = {"missing": tmp_path / "nothing", "run": scratch_run}
    with pytest.raises(ValueError) as raised:
        resolve_start(start.format(**names), arch, size, 10)
    assert str(raised.value) == message.format(**names)


@pytest.fixture(scope="module")
def dataset_96(tmp_path_factory) -> Path:
    return sample_dataset(tmp_path_factory.mktemp("ninety-six"), 40, seed=4)


def start_val_iou(member: Path, dataset: Path, run: Path) -> float:
    """The exact validation IoU of a start member on the RUN's validation photos, computed here."""
    split = json.loads((run / "split.json").read_text())
    examples = pipeline.read_examples([dataset])
    examples = examples.subset(examples.frame["image"].isin(split["val"]).to_numpy())
    model = keras.saving.load_model(member, compile=False)
    outputs = np.concatenate(
        [model(inputs, training=False).numpy() for inputs, _ in pipeline.make_dataset(examples, 96, 8, training=False)]
    )
    crops = crop_tf.kept_or_cropped(outputs).numpy()
    return float(np.mean(metrics.exact_ious(crops, examples.labels, examples.frame["width"], examples.frame["height"])))


def test_fine_tuning_keeps_the_start_when_no_epoch_beats_it(dataset_96, tmp_path):
    # A learning rate of 1 wrecks the model in one epoch: the member must be the general model's member 0 as it was.
    result = train(
        [dataset_96],
        tmp_path / "run",
        epochs=1,
        batch_size=8,
        ensemble=1,
        learning_rate=1.0,
        start="general",
        verbose=0,
    )
    run = result.run
    config = json.loads((run / "config.json").read_text())
    assert config["schedule"]["start"] == "from the general model"
    started = json.loads((run / "members/0/start.json").read_text())
    general_member = GENERAL_MODEL / "members/0/model.keras"
    assert started["val_crop_iou"] == pytest.approx(start_val_iou(general_member, dataset_96, run), abs=1e-6)
    assert result.best_val_iou == pytest.approx(started["val_crop_iou"], abs=1e-6)
    member = keras.saving.load_model(run / "members/0/model.keras", compile=False)
    for ours, theirs in zip(weights_of(member), weights_of(keras.saving.load_model(general_member, compile=False))):
        np.testing.assert_array_equal(ours, theirs)


def test_fine_tuning_keeps_the_best_of_the_start_and_its_epochs(dataset_96, tmp_path):
    result = train([dataset_96], tmp_path / "run", epochs=3, batch_size=8, ensemble=1, start="general", verbose=0)
    config = json.loads((result.run / "config.json").read_text())
    assert config["schedule"]["start"] == "from the general model"
    assert (config["arguments"]["arch"], config["model"]["arch"]) == (None, "pretrained")  # the start's
    start = json.loads((result.run / "members/0/start.json").read_text())["val_crop_iou"]
    assert result.best_val_iou == pytest.approx(max(start, *result.history["val_crop_iou"]), abs=1e-6)


@pytest.mark.parametrize(
    "start, arch, size, photos, compared",
    [
        ("auto", None, 96, 24, ()),  # the general model alone
        ("auto", None, 96, 25, ("general", "scratch")),
        ("auto", None, 96, 99, ("general", "scratch")),
        ("auto", "pretrained", 96, 50, ("general", "scratch")),
        ("auto", None, 96, 100, ()),  # scratch alone
        ("auto", "separable", 96, 50, ()),  # the general model does not fit: scratch alone
        ("auto", None, 64, 50, ()),
        ("general", None, 96, 50, ()),
        ("scratch", None, 96, 50, ()),
    ],
)
def test_auto_compares_the_two_starts_from_25_to_99_photos(start, arch, size, photos, compared):
    assert starts_to_compare(start, arch, size, photos) == compared


@pytest.fixture(scope="module")
def compared_run(dataset_96, tmp_path_factory) -> Path:
    """The default start on 40 photos: both starts trained, one model each, one epoch."""
    return train(
        [dataset_96], tmp_path_factory.mktemp("compared") / "run", epochs=1, batch_size=8, ensemble=1, verbose=0
    ).run


def test_from_25_photos_the_default_keeps_the_start_better_on_validation(dataset_96, compared_run):
    run = compared_run
    assert 25 <= len(pipeline.read_examples([dataset_96])) < 100
    config = json.loads((run / "config.json").read_text())
    starts = {name: json.loads((run / "starts" / name / "config.json").read_text()) for name in ("general", "scratch")}
    figures = {name: starts[name]["validation"]["val_crop_iou"] for name in starts}
    kept, other = sorted(figures, key=lambda name: (-figures[name], name))  # a tie keeps the general start
    assert config["start_choice"]["val_crop_iou"] == figures and config["start_choice"]["kept"] == kept
    assert (starts["general"]["model"]["arch"], starts["scratch"]["model"]["arch"]) == ("pretrained", "separable")
    assert starts["general"]["schedule"]["start"] == "from the general model"
    assert starts["scratch"]["schedule"]["start"] == "from scratch"
    words = {"general": "the general model", "scratch": "scratch"}
    assert config["schedule"]["start"] == (
        f"{starts[kept]['schedule']['start']}; kept: validation IoU {figures[kept]:.3f}, "
        f"against {figures[other]:.3f} from {words[other]}"
    )
    assert config["arguments"]["start"] == "auto" and config["model"] == starts[kept]["model"]
    # The same split for both, and RUN is a copy of the kept one.
    assert (run / "starts/general/split.json").read_text() == (run / "starts/scratch/split.json").read_text()
    for name in ("model.keras", "split.json", "baselines.json", "members/0/model.keras", "members/0/history.csv"):
        assert (run / name).read_bytes() == (run / "starts" / kept / name).read_bytes(), name


def test_a_compared_run_resumes_both_starts(dataset_96, compared_run, tmp_path):
    before = json.loads((compared_run / "config.json").read_text())
    resumed = train([dataset_96], compared_run, epochs=1, batch_size=8, ensemble=1, verbose=0, resume=True)
    after = json.loads((compared_run / "config.json").read_text())
    assert after["start_choice"] == before["start_choice"]  # finished members are read back, not trained again
    assert resumed.best_val_iou == before["start_choice"]["val_crop_iou"][before["start_choice"]["kept"]]
    with pytest.raises(ValueError, match=r"^nothing to resume in .*empty: no starts/\*/config\.json$"):
        train([dataset_96], tmp_path / "empty", epochs=1, batch_size=8, ensemble=1, verbose=0, resume=True)
    (tmp_path / "earlier").mkdir()
    (tmp_path / "earlier/config.json").write_text("{}")  # a RUN begun with one start by an earlier cropstyle
    with pytest.raises(
        ValueError,
        match=r"^nothing to resume in .*earlier: no starts/\*/config\.json \(begun before `auto` compared two starts "
        r"on this many photos: train it anew\)$",
    ):
        train([dataset_96], tmp_path / "earlier", epochs=1, batch_size=8, ensemble=1, verbose=0, resume=True)


def test_resume_refuses_another_start(scratch_run):
    config = json.loads((scratch_run / "config.json").read_text())
    dataset = Path(config["arguments"]["datasets"][0])
    with pytest.raises(ValueError, match="changed: start$"):
        train(
            [dataset],
            scratch_run,
            epochs=1,
            batch_size=8,
            image_size=32,
            ensemble=1,
            start=str(scratch_run),
            resume=True,
            verbose=0,
        )


@pytest.mark.parametrize("given, start", [([], "auto"), (["--start", "general"], "general"), (["--start", "r"], "r")])
def test_the_command_line_starts_by_the_number_of_photos_unless_told(given, start):
    from cropstyle import cli

    parsed = cli.build_parser().parse_args(["train", "data", "--out", "run", *given])
    assert (parsed.start, parsed.arch) == (start, None)  # the model follows the start unless --arch says
