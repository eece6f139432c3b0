"""`cropstyle train`: fit a crop model on one or more datasets and leave everything in RUN (layout: training/run.py).

`train` is four steps: prepare (check the arguments, seed, read and split the examples, size the batches and the
schedule), write the RUN's description (config.json, split.json, baselines.json), fit the members (each into
RUN/members/K/, resumable), and combine them into RUN/model.keras with its validation figures.
"""

from __future__ import annotations

import json
import platform
import shutil
import subprocess
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Sequence

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from cropstyle.extractor.geometry import LABEL_VALUES, Crop
from cropstyle.training import baselines, confidence, crop_tf, drawing, fine_tune, metrics, pipeline
from cropstyle.training import run as layout
from cropstyle.training.losses import CornerBoxIoU, CropLoss
from cropstyle.training.model import averaged, build_model, decided, flip_averaged, training_view
from cropstyle.training.options import CHOOSE_BELOW, GENERAL_BELOW, RESUME_DEFAULTS, RESUME_KEYS, TrainOptions
from cropstyle.training.run import MONITOR, Run, member_dir

PREVIEWS = 6  # validation photos drawn in TensorBoard each epoch
START = "start.json"  # in a fine-tuned member's folder: its start and the start's validation IoU
START_WORDS = {fine_tune.GENERAL: "the general model", fine_tune.SCRATCH: "scratch"}


@dataclass
class TrainResult:
    run: Path
    model_path: Path
    epochs: int  # epochs completed (in this and earlier, resumed sessions)
    best_val_iou: float
    n_train: int
    n_val: int
    seconds: float
    history: dict[str, list[float]] = field(default_factory=dict)
    val_iou_flip_averaged: float | None = None  # the best epoch's with test-time flip averaging, same photos
    val_baselines: dict[str, float] = field(default_factory=dict)  # validation_baselines: the same photos' IoU

    def report(self) -> str:
        line = (
            f"trained on {self.n_train} photos, validated on {self.n_val}: {self.epochs} epochs in "
            f"{self.seconds:.0f} s, best validation IoU {self.best_val_iou:.3f}"
            + (f" ({self.val_iou_flip_averaged:.3f} with --flip-average)" if self.val_iou_flip_averaged else "")
            + f"; model in {self.model_path}"
        )
        if not self.val_baselines:
            return line
        beaten = [name for name, score in self.val_baselines.items() if score > self.best_val_iou]
        return (
            f"{line}\non the same {self.n_val} validation photos: "
            + ", ".join(f"the {name} {score:.3f}" for name, score in self.val_baselines.items())
            + (f"; the model is not yet better than the {' or the '.join(beaten)}" if beaten else "")
        )


class ValidationCrops(keras.callbacks.Callback):
    """Each epoch: the validation figures into the logs (val_loss, val_iou, and val_crop_iou, the exact mean
    IoU of the rotated crops by extractor.geometry.iou in displayed pixels, for early stopping and
    checkpoints), and a few validation photos with the photographer's crop (green) and the prediction
    (red) to TensorBoard.

    It runs the model itself, on every validation photo, outside any distribution strategy: Keras's own
    distributed evaluation would split the last, short batch across the replicas and hand some of them
    nothing (a crash in batch normalisation), or need photos dropped to make batches even."""

    def __init__(
        self, examples: pipeline.Examples, image_size: int, batch_size: int, loss: keras.losses.Loss, log_dir: Path
    ):
        super().__init__()
        self.examples, self.loss = examples, loss
        self.data = pipeline.make_dataset(examples, image_size, batch_size, training=False)
        self.log_dir, self.writer = log_dir, None  # the writer is made at the first epoch's end
        self._forward = None

    def predict(self, model: keras.Model | None = None) -> np.ndarray:
        """The outputs for all validation photos, in order, of the model being trained (crops and keep-the-frame
        logits [n, 6]) or of `model`."""
        if model is not None:
            return np.concatenate([model(inputs, training=False).numpy() for inputs, _ in self.data])
        if self._forward is None:
            self._forward = tf.function(lambda inputs: self.model(inputs, training=False), reduce_retracing=True)
        return np.concatenate([self._forward(inputs).numpy() for inputs, _ in self.data])

    def ious(self, predictions: np.ndarray) -> np.ndarray:
        """The exact IoU of each validation crop (geometry.iou of the rotated crops in displayed pixels)."""
        frame = self.examples.frame
        return metrics.exact_ious(predictions, self.examples.labels, frame["width"], frame["height"])

    def mean_iou(self, predictions: np.ndarray) -> float:
        """The exact mean IoU of these validation crops."""
        return float(np.mean(self.ious(predictions)))

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        outputs = self.predict()
        predictions = crop_tf.kept_or_cropped(outputs).numpy()
        labels = self.examples.labels
        figures = {
            "val_loss": float(np.mean(self.loss.call(labels, outputs))),
            "val_iou": float(np.mean(crop_tf.corner_box_iou(labels, predictions))),
            MONITOR: self.mean_iou(predictions),
        }
        if logs is not None:
            logs.update(figures)
        images = [
            np.asarray(
                drawing.draw_crops(
                    path,
                    [(Crop(*map(float, t)), drawing.TRUE_COLOUR), (Crop(*map(float, p)), drawing.MODEL_COLOUR)],
                    long_side=256,
                ).resize((256, 256))
            )
            for path, p, t in list(zip(self.examples.paths, predictions, labels))[:PREVIEWS]
        ]
        if self.writer is None:
            self.writer = tf.summary.create_file_writer(str(self.log_dir / "previews"))
        with self.writer.as_default():
            tf.summary.image(
                "validation crops (green: photographer, red: model)", np.stack(images), step=epoch, max_outputs=PREVIEWS
            )
            tf.summary.scalar("crop_iou", figures[MONITOR], step=epoch)
        self.writer.flush()


def device_line(strategy: tf.distribute.Strategy) -> str:
    """Which device trains, in words: the GPUs it uses, by name, or the CPU."""
    gpus = tf.config.list_physical_devices("GPU")
    if strategy.num_replicas_in_sync > 1:  # mirrored: exactly its devices
        devices = list(strategy.extended.worker_devices)
        return f"training on {len(devices)} devices: {', '.join(devices)}"
    if not gpus:
        return "training on the CPU (no GPU found)"
    name = tf.config.experimental.get_device_details(gpus[0]).get("device_name", gpus[0].name)
    return f"training on the GPU: {name}" + (f" (1 of {len(gpus)})" if len(gpus) > 1 else "")


def _strategy(devices: Sequence[str] | None) -> tf.distribute.Strategy:
    """Mirrored across `devices`, or across all GPUs when there are several; else the default strategy."""
    devices = list(devices) if devices else [d.name for d in tf.config.list_logical_devices("GPU")]
    if len(devices) > 1:
        return tf.distribute.MirroredStrategy(devices)
    return tf.distribute.get_strategy()


def _versions() -> dict[str, str]:
    import PIL

    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except OSError:
        commit = ""
    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "pillow": PIL.__version__,
        "cropstyle_commit": commit,
    }


def _source_long_side(paths: Sequence[str]) -> int:
    """The training images' long side (the extractor's --size): the largest among them, read from their headers
    (smaller originals are never enlarged)."""
    from PIL import Image

    def long_side(path: str) -> int:
        with Image.open(path) as image:
            return max(image.size)

    return max(map(long_side, paths))


def _dataset_record(dataset: Path) -> dict:
    labels = dataset / "labels.csv"
    return {
        "path": str(dataset.resolve()),
        "labels_sha256": pipeline.file_sha256(labels),
        "rows": int(len(pd.read_csv(labels, usecols=["image"]))),
    }


def _check_resume(out: Path, arguments: dict) -> dict:
    """The interrupted run's config.json, if `arguments` may resume it (else ValueError)."""
    try:
        before = Run.open(out).config
    except FileNotFoundError:
        raise ValueError(f"nothing to resume in {out}: no {layout.CONFIG}") from None
    changed = [key for key in RESUME_KEYS if before["arguments"].get(key, RESUME_DEFAULTS.get(key)) != arguments[key]]
    if changed:
        raise ValueError(f"--resume needs the same arguments as the interrupted run; changed: {', '.join(changed)}")
    hashes = [d["labels_sha256"] for d in before["datasets"]]
    if hashes != [_dataset_record(Path(d))["labels_sha256"] for d in arguments["datasets"]]:
        raise ValueError("--resume: a dataset changed since the interrupted run")
    return before


# About this many optimizer steps for each model whatever the number of photos (a small library sees each photo more
# often, under augmentation; a large one fewer times): from scratch, and fine-tuning a trained start
# (training/fine_tune.py), which needs fewer (docs/results.md, "Starting from the general model").
SCHEDULE_STEPS = {"scratch": 1500, "fine-tune": 500}
EPOCH_BOUNDS = (15, 300)
# An epoch of the schedule is at least this many steps: a small library passes over its photos several times an epoch,
# so that validating, checkpointing and backing up, once an epoch, do not outweigh the training (docs/results.md).
MIN_EPOCH_STEPS = 20
# A member this far below the best member's validation IoU failed to learn rather than varied, and is left out of the
# mean (a member stuck with a saturated output drags the mean down with it: docs/results.md, "Ensemble").
MEMBER_TOLERANCE = 0.02
# With fewer validation photos than this, a gap of MEMBER_TOLERANCE can be one photo's doing (one photo moves a mean
# of n by up to 1/n), so every member is kept: at 10 crops (2 validation photos) the rule dropped members by chance
# (docs/results.md, "Pretrained features").
MIN_PHOTOS_TO_LEAVE_OUT = round(1 / MEMBER_TOLERANCE)


def epoch_plan(batches: int, steps: int, epochs: int | None = None) -> tuple[int, int]:
    """(steps an epoch, epochs) for `batches` batches of training photos: `epochs` passes over them when given, else
    about `steps` steps in epochs of at least MIN_EPOCH_STEPS steps, within EPOCH_BOUNDS."""
    if epochs:
        return batches, epochs
    per_epoch = max(batches, MIN_EPOCH_STEPS)
    return per_epoch, int(min(max(-(-steps // per_epoch), EPOCH_BOUNDS[0]), EPOCH_BOUNDS[1]))


def default_patience(epochs: int) -> int:
    """Epochs without a better validation IoU before training stops: a quarter of them, at least 10."""
    return max(10, epochs // 4)


def kept_members(members_val: Sequence[float], val_photos: int) -> list[int]:
    """The members an ensemble averages: those within MEMBER_TOLERANCE of the best member's validation IoU on
    `val_photos` photos; all of them with fewer than MIN_PHOTOS_TO_LEAVE_OUT."""
    if val_photos < MIN_PHOTOS_TO_LEAVE_OUT:
        return list(range(len(members_val)))
    return [k for k, value in enumerate(members_val) if value >= max(members_val) - MEMBER_TOLERANCE]


@dataclass
class Plan:
    """What the prepare step settles: the data, the batches, the schedule, and what every member shares."""

    out: Path
    options: TrainOptions
    arguments: dict  # config.json's `arguments`
    before: dict  # the interrupted run's config.json when resuming, else {}
    datasets: list[Path]
    train_examples: pipeline.Examples
    val_examples: pipeline.Examples
    strategy: tf.distribute.Strategy
    batch_size: int
    steps: int  # per epoch
    epochs: int
    patience: int
    start: fine_tune.Start
    keep_decision: bool
    crop_loss: CropLoss
    resume: bool


@dataclass
class Member:
    """One fitted member: its history (all sessions) and this session's Keras history ({} if it was already done)."""

    k: int
    history: pd.DataFrame
    fit_history: dict[str, list[float]]
    start_val_iou: float | None = None  # the start model's, when fine-tuned (kept if no epoch beat it)

    @property
    def best_val_iou(self) -> float:
        best = float(self.history[MONITOR].max()) if len(self.history) else -1.0
        return max(best, self.start_val_iou) if self.start_val_iou is not None else best


def prepare(
    datasets: Sequence[Path],
    examples: pipeline.Examples,
    out: Path,
    options: TrainOptions,
    resume: bool,
    devices: Sequence[str] | None,
) -> Plan:
    """Check the arguments, seed everything, split the datasets' examples, size the batches and the schedule."""
    datasets = [Path(d) for d in datasets]
    arguments = {"datasets": [str(d.resolve()) for d in datasets], **options.as_dict()}
    before = _check_resume(out, arguments) if resume else {}
    if not resume:
        shutil.rmtree(out / layout.MEMBERS, ignore_errors=True)
        shutil.rmtree(out / layout.STARTS, ignore_errors=True)  # an earlier run's compared starts
    out.mkdir(parents=True, exist_ok=True)

    # Repeatable: seeded Python/NumPy/TF generators, deterministic kernels, a seeded split and augmentation.
    keras.utils.set_random_seed(options.seed)
    tf.config.experimental.enable_op_determinism()

    train_examples, val_examples = pipeline.split(examples, options.val_split, options.seed)
    strategy = _strategy(devices)
    # Every training batch is full (training=True repeats the shuffled photos) and splits evenly over the
    # replicas, so none of a distributed fit ever gets a short or empty share (tf.distribute fails on
    # both); a batch is never larger than the photos there are, rounded down to a multiple of the replicas.
    replicas = strategy.num_replicas_in_sync
    batch_size = replicas * max(1, min(options.batch_size, len(train_examples)) // replicas)
    start = fine_tune.resolve_start(options.start, options.arch, options.image_size, len(examples))
    options = replace(options, arch=start.arch)  # what is built; `arguments` keeps what was asked
    schedule_steps = SCHEDULE_STEPS["scratch" if start.from_scratch else "fine-tune"]
    steps, epochs = epoch_plan(-(-len(train_examples) // batch_size), schedule_steps, options.epochs)
    # Whether the photographer ever leaves a photo uncropped is in the data: only then does the model learn to
    # (learning "always crop" instead costs photographers who crop every photo).
    keep_decision = bool(crop_tf.is_full_frame(train_examples.labels).numpy().any())
    return Plan(
        out=out,
        options=options,
        arguments=arguments,
        before=before,
        datasets=datasets,
        train_examples=train_examples,
        val_examples=val_examples,
        strategy=strategy,
        batch_size=batch_size,
        steps=steps,
        epochs=epochs,
        patience=options.patience or default_patience(epochs),
        start=start,
        keep_decision=keep_decision,
        crop_loss=CropLoss(value_loss=options.loss),
        resume=resume,
    )


def compiled_member(plan: Plan, k: int) -> tuple[tf.data.Dataset, keras.Model]:
    """Member k's training data and compiled model: the same split, its own seed (k = 0: `seed`'s run, the same as
    without an ensemble) for the weights, the shuffling and the augmentation."""
    options = plan.options
    if k:
        keras.utils.set_random_seed(options.seed + k)
    data = pipeline.make_dataset(
        plan.train_examples, options.image_size, plan.batch_size, training=True, seed=options.seed + k
    )
    use_mixed = options.mixed_precision and bool(tf.config.list_physical_devices("GPU"))
    keras.mixed_precision.set_global_policy("mixed_float16" if use_mixed else "float32")
    with plan.strategy.scope():
        model = training_view(
            build_model(options.arch, options.image_size, options.weights, keep_decision=plan.keep_decision)
        )
        start = fine_tune.member_start(plan.start, k)
        if start is not None:
            fine_tune.load_start(model, start)
        schedule = keras.optimizers.schedules.CosineDecay(
            options.learning_rate, decay_steps=max(1, plan.epochs * plan.steps), alpha=0.05
        )
        model.compile(
            optimizer=keras.optimizers.AdamW(schedule, weight_decay=1e-4), loss=plan.crop_loss, metrics=[CornerBoxIoU()]
        )
    keras.mixed_precision.set_global_policy("float32")
    return data, model


def run_description(plan: Plan, parameters: int) -> dict:
    """config.json (its `validation` is added by `combine`)."""
    options = plan.options
    config = {
        "arguments": plan.arguments,
        "datasets": [_dataset_record(d) for d in plan.datasets],
        "split": {
            "train": len(plan.train_examples),
            "val": len(plan.val_examples),
            "by": "source photo and image hash",
        },
        "batch": {
            "size": plan.batch_size,
            "steps_per_epoch": plan.steps,
            "replicas": plan.strategy.num_replicas_in_sync,
        },
        "schedule": {
            "epochs": plan.epochs,
            "patience": plan.patience,
            "start": plan.start.described,
            "rule": "about {} steps for each member of an ensemble from scratch, {} fine-tuning, in epochs of at "
            "least {} steps, within {} epochs; patience a quarter of them (at least 10): training/train.py".format(
                SCHEDULE_STEPS["scratch"], SCHEDULE_STEPS["fine-tune"], MIN_EPOCH_STEPS, list(EPOCH_BOUNDS)
            ),
        },
        "preprocessing": pipeline.preprocessing(options.image_size, _source_long_side(plan.train_examples.paths)),
        "model": {
            "arch": options.arch,
            "parameters": parameters * options.ensemble,
            "outputs": list(LABEL_VALUES),
            "keep_decision": plan.keep_decision,
            "ensemble": options.ensemble,
        },
        "loss": {
            "name": "CropLoss",
            "value_loss": options.loss,
            "iou_weight": 1.0,
            "value_weight": 1.0,
            "keep_weight": plan.crop_loss.keep_weight,
            "definition": "training/losses.py",
        },
        "augmentation": f"zoom (p {pipeline.ZOOM_PROBABILITY}: a random window {pipeline.ZOOM_SMALLEST}–1 of the frame "
        "that holds the whole crop, label moved exactly), "
        "horizontal flip (label mirrored, angle negated), brightness ±0.08, contrast ×0.85–1.15 "
        "about the mean, saturation ×0.85–1.15 about the luma (training/pipeline.py augment)",
        "versions": _versions(),
    }
    if "validation" in plan.before:  # resumed: kept until `combine` measures the model again
        config["validation"] = plan.before["validation"]
    return config


def write_description(plan: Plan, config: dict) -> None:
    """RUN/config.json, RUN/baselines.json and RUN/split.json."""
    out, labels = plan.out, plan.train_examples.labels.astype(float)
    (out / layout.CONFIG).write_text(json.dumps(config, indent=2))
    (out / layout.BASELINES).write_text(
        json.dumps({"mean": labels.mean(axis=0).tolist(), "train_crops": labels.round(6).tolist()})
    )
    (out / layout.SPLIT).write_text(
        json.dumps(
            {"train": plan.train_examples.frame["image"].tolist(), "val": plan.val_examples.frame["image"].tolist()},
            indent=0,
        )
    )


def fit_member(
    plan: Plan,
    k: int,
    compiled: tuple[tf.data.Dataset, keras.Model],
    callbacks: Sequence[keras.callbacks.Callback],
    verbose: int,
) -> Member:
    """Fit member k into RUN/members/K (its best epoch in model.keras); a member a resumed run finished already is
    read back, not trained again."""
    where = member_dir(plan.out, k)
    start_path = where / START
    if plan.resume and (where / layout.MODEL).exists() and not (where / layout.BACKUP).exists():
        return Member(k, pd.read_csv(where / layout.HISTORY), {}, _start_val_iou(start_path))
    if not plan.resume:
        shutil.rmtree(where / layout.BACKUP, ignore_errors=True)
        shutil.rmtree(where / layout.LOGS, ignore_errors=True)
        start_path.unlink(missing_ok=True)
    where.mkdir(parents=True, exist_ok=True)
    history_path = where / layout.HISTORY
    best_path = where / "best.keras"
    data, model = compiled
    image_size = plan.options.image_size
    validation = ValidationCrops(plan.val_examples, image_size, plan.batch_size, plan.crop_loss, where / layout.LOGS)
    if not plan.start.from_scratch and not start_path.exists():
        # The start itself is the first candidate for the best epoch: fine-tuning on a few photos keeps it unless
        # an epoch does better on the validation photos.
        start_val = validation.mean_iou(crop_tf.kept_or_cropped(validation.predict(model)).numpy())
        model.save(best_path)
        start_path.write_text(json.dumps({"start": plan.start.described, MONITOR: start_val}))
    start_val_iou = _start_val_iou(start_path)
    best_so_far = start_val_iou
    if plan.resume and history_path.exists() and history_path.stat().st_size:
        best_so_far = max(float(pd.read_csv(history_path)[MONITOR].max()), start_val_iou or -1.0)
    fit_callbacks = [
        keras.callbacks.BackupAndRestore(str(where / layout.BACKUP)),
        validation,
        keras.callbacks.ModelCheckpoint(
            str(best_path), monitor=MONITOR, mode="max", save_best_only=True, initial_value_threshold=best_so_far
        ),
        keras.callbacks.EarlyStopping(monitor=MONITOR, mode="max", patience=plan.patience),
        keras.callbacks.CSVLogger(str(history_path), append=plan.resume),
        keras.callbacks.TensorBoard(str(where / layout.LOGS), write_graph=False),
        *callbacks,
    ]
    # shuffle=False: the dataset shuffles itself (seeded); Keras cannot shuffle a tf.data.Dataset.
    fit = model.fit(
        data, epochs=plan.epochs, steps_per_epoch=plan.steps, callbacks=fit_callbacks, verbose=verbose, shuffle=False
    )
    if best_path.exists():
        best_path.replace(where / layout.MODEL)
    else:  # no epoch beat what an earlier session had: the model as it stands
        model.save(where / layout.MODEL)
    fit_history = {key: [float(v) for v in values] for key, values in fit.history.items()}
    return Member(k, pd.read_csv(history_path), fit_history, start_val_iou)


def _start_val_iou(start_path: Path) -> float | None:
    return float(json.loads(start_path.read_text())[MONITOR]) if start_path.is_file() else None


def combine(plan: Plan, members: list[Member], config: dict, verbose: int) -> float:
    """RUN/model.keras from the members that learned, and its exact validation figures in config.json (written);
    returns the validation IoU."""
    members_val = [member.best_val_iou for member in members]
    kept = kept_members(members_val, len(plan.val_examples))
    models = [keras.saving.load_model(member_dir(plan.out, k) / layout.MODEL, compile=False) for k in kept]
    best = averaged(models) if len(models) > 1 else models[0]
    validation = ValidationCrops(
        plan.val_examples, plan.options.image_size, plan.batch_size, plan.crop_loss, plan.out / layout.LOGS
    )
    best_val_iou = validation.mean_iou(crop_tf.kept_or_cropped(validation.predict(best)).numpy())
    left_out = [k for k in range(len(members)) if k not in kept]
    if verbose and left_out:
        print(
            f"left out of the mean: member(s) {', '.join(map(str, left_out))}, validation IoU more than "
            f"{MEMBER_TOLERANCE} below the best member's ({max(members_val):.3f})"
        )
    if len(members) == 1:
        described = "best epoch"
    else:
        described = f"mean of {len(kept)} members' best epochs" if len(kept) > 1 else f"member {kept[0]}'s best epoch"
    flip_average = plan.options.flip_average
    averaged_flips = flip_averaged(best)
    final = averaged_flips if flip_average else decided(best)
    crops, features = confidence.features_of(final, validation.data)
    calibration = confidence.fit_calibration(features, validation.ious(crops))
    confidence.with_confidence(final, calibration).save(plan.out / layout.MODEL)
    config["confidence"] = calibration.as_dict()
    config["validation"] = {
        "val_crop_iou": best_val_iou,
        "val_crop_iou_flip_averaged": validation.mean_iou(validation.predict(averaged_flips)),
        "model_keras": described + (", flip averaged" if flip_average else ""),
        "what": "exact mean IoU on the validation photos of RUN/model.keras's model, alone and "
        "with test-time flip averaging",
        "members_val_crop_iou": members_val,
        "members_kept": kept,
    }
    (plan.out / layout.CONFIG).write_text(json.dumps(config, indent=2))
    return best_val_iou


def train(
    datasets: list[Path],
    out: Path,
    *,
    resume: bool = False,
    devices: Sequence[str] | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    verbose: int = 2,
    **options,
) -> TrainResult:
    """Train on `datasets` (combined), writing RUN `out` (training/run.py). `options`: TrainOptions's fields
    (training/options.py, where the defaults are). devices: train mirrored across these (default: all GPUs).
    callbacks: extra Keras callbacks. verbose: Keras fit verbosity (2 = one line per epoch)."""
    started = time.time()
    out = Path(out)
    given = TrainOptions(**options)
    examples = pipeline.read_examples([Path(d) for d in datasets])
    photos = len(examples)
    compared = fine_tune.starts_to_compare(given.start, given.arch, given.image_size, photos)
    if compared:
        return train_compared(
            datasets,
            out,
            compared,
            photos,
            resume=resume,
            devices=devices,
            callbacks=callbacks,
            verbose=verbose,
            **options,
        )
    plan = prepare(datasets, examples, out, given, resume, devices)
    first = compiled_member(plan, 0)
    config = run_description(plan, int(first[1].count_params()))
    write_description(plan, config)
    ensemble = plan.options.ensemble
    if verbose:
        print(device_line(plan.strategy))
        print(
            f"training {plan.options.arch} ({first[1].count_params():,} parameters"
            + (f", {ensemble} members" if ensemble > 1 else "")
            + f") on {len(plan.train_examples)} photos, "
            f"validating on {len(plan.val_examples)}, {plan.options.image_size} px, batch {plan.batch_size}, "
            f"up to {plan.epochs} epochs, {plan.start.described}"
        )
    members = []
    for k in range(ensemble):
        if verbose and ensemble > 1:
            print(f"member {k + 1} of {ensemble} (seed {plan.options.seed + k}), in {member_dir(out, k)}")
        members.append(fit_member(plan, k, first if k == 0 else compiled_member(plan, k), callbacks, verbose))
    best_val_iou = combine(plan, members, config, verbose)
    result = TrainResult(
        run=out,
        model_path=out / layout.MODEL,
        epochs=sum(len(member.history) for member in members),
        best_val_iou=best_val_iou,
        n_train=len(plan.train_examples),
        n_val=len(plan.val_examples),
        seconds=time.time() - started,
        history=members[0].fit_history,
        val_iou_flip_averaged=config["validation"]["val_crop_iou_flip_averaged"],
        val_baselines=validation_baselines(plan),
    )
    if verbose:
        print(result.report())
    return result


def validation_baselines(plan: Plan) -> dict[str, float]:
    """The validation photos' mean IoU for the two answers that need no model, as `evaluate` scores them
    (baselines.full and baselines.mean): leaving every photo as it is, and the training crops' mean crop. With few
    crops the model may not beat them yet, and the photographer should know."""
    frame, n = plan.val_examples.frame, len(plan.val_examples)
    answers = {
        "full frame": baselines.full(n),
        "mean crop": baselines.mean(n, plan.train_examples.labels.astype(float).mean(axis=0).tolist()),
    }
    truth = [Crop(*map(float, label)) for label in plan.val_examples.labels]
    sizes = list(zip(frame["width"].astype(float), frame["height"].astype(float)))
    return {
        name: float(np.mean([metrics.crop_metrics(c, t, w, h)["iou"] for c, t, (w, h) in zip(crops, truth, sizes)]))
        for name, crops in answers.items()
    }


def train_compared(
    datasets: list[Path],
    out: Path,
    starts: Sequence[str],
    photos: int,
    *,
    resume: bool,
    devices: Sequence[str] | None,
    callbacks: Sequence[keras.callbacks.Callback],
    verbose: int,
    **options,
) -> TrainResult:
    """`--start auto` where neither start is better for every photographer (fine_tune.starts_to_compare): a RUN for each
    start in RUN/starts/NAME, on the same split, then RUN itself a copy of the one better on the validation photos,
    with both figures in config.json's `start_choice`."""
    started = time.time()
    runs = {start: out / layout.STARTS / start for start in starts}
    if resume and not any((run / layout.CONFIG).is_file() for run in runs.values()):
        earlier = " (begun before `auto` compared two starts on this many photos: train it anew)"
        earlier = earlier if (out / layout.CONFIG).is_file() else ""
        raise ValueError(f"nothing to resume in {out}: no {layout.STARTS}/*/{layout.CONFIG}{earlier}")
    if not resume:  # an earlier run's files would pass for this one's until it is done
        for name in (layout.STARTS, layout.MEMBERS):
            shutil.rmtree(out / name, ignore_errors=True)
        for name in (layout.CONFIG, layout.MODEL, layout.SPLIT, layout.BASELINES, layout.EVALUATION):
            (out / name).unlink(missing_ok=True)
    if verbose:
        print(
            f"{photos} photos: training from {' and from '.join(map(START_WORDS.get, starts))}, to keep the one "
            f"better on the validation photos (from {GENERAL_BELOW} to {CHOOSE_BELOW - 1} photos neither is better "
            "for every photographer)"
        )
    results = {}
    for start, run in runs.items():
        if verbose:
            print(f"from {START_WORDS[start]}, in {run}")
        results[start] = train(
            datasets,
            run,
            resume=resume and (run / layout.CONFIG).is_file(),
            devices=devices,
            callbacks=callbacks,
            verbose=verbose,
            **{**options, "start": start},
        )
    figures = {start: result.best_val_iou for start, result in results.items()}
    kept = max(figures, key=figures.get)  # a tie keeps the first
    others = ", ".join(f"{figures[start]:.3f} from {START_WORDS[start]}" for start in starts if start != kept)
    source = runs[kept]
    for name in (layout.MODEL, layout.SPLIT, layout.BASELINES):
        shutil.copy2(source / name, out / name)
    shutil.rmtree(out / layout.MEMBERS, ignore_errors=True)
    shutil.copytree(source / layout.MEMBERS, out / layout.MEMBERS)
    config = json.loads((source / layout.CONFIG).read_text())
    config["arguments"]["start"] = fine_tune.AUTO
    config["schedule"]["start"] += f"; kept: validation IoU {figures[kept]:.3f}, against {others}"
    config["start_choice"] = {
        "val_crop_iou": figures,
        "kept": kept,
        "runs": {start: f"{layout.STARTS}/{start}" for start in starts},
        "rule": f"--start auto on {GENERAL_BELOW} to {CHOOSE_BELOW - 1} photos: both starts, the better on the "
        "validation photos kept (training/fine_tune.py)",
    }
    (out / layout.CONFIG).write_text(json.dumps(config, indent=2))
    result = replace(results[kept], run=out, model_path=out / layout.MODEL, seconds=time.time() - started)
    if verbose:
        print(f"kept the start from {START_WORDS[kept]}: validation IoU {figures[kept]:.3f}, against {others}")
        print(result.report())
    return result
