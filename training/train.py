"""`cropstyle train`: fit a crop model on one or more datasets and leave everything in RUN.

RUN/model.keras      the best model (highest exact validation IoU)
RUN/config.json      what reproduces it: arguments, dataset hashes, split, versions, preprocessing, loss
RUN/baselines.json   the training crops and their mean, for `cropstyle evaluate`'s mean and random baselines
RUN/split.json       which images were used for training and for validation
RUN/members/K/       the ensemble's member K (3 by default): its model.keras, history.csv (one line per epoch),
                     logs/ (TensorBoard: losses, metrics, validation previews) and backup/ (the state --resume
                     continues from after an interruption, removed when its training ends); RUN/model.keras is
                     their mean
RUN/history.csv, RUN/logs/, RUN/backup/   the same in RUN itself with --ensemble 1 (one model, no members/)
"""
from __future__ import annotations

import json
import platform
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from cropstyle.extractor.geometry import LABEL_VALUES, Crop, iou
from cropstyle.training import crop_tf, drawing, pipeline
from cropstyle.training.losses import CornerBoxIoU, CropLoss
from cropstyle.training.model import averaged, build_model, decided, flip_averaged, training_view
from cropstyle.training.run import Run

MONITOR = "val_crop_iou"  # exact mean IoU of the rotated crops on the validation photos
PREVIEWS = 6  # validation photos drawn in TensorBoard each epoch
# Arguments that must be the same to --resume a run.
_RESUME_KEYS = ("datasets", "batch_size", "image_size", "arch", "weights", "val_split", "seed", "loss", "ensemble")
_RESUME_DEFAULTS = {"ensemble": 1}  # what runs made before an argument existed had


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

    def report(self) -> str:
        return (f"trained on {self.n_train} photos, validated on {self.n_val}: {self.epochs} epochs in "
                f"{self.seconds:.0f} s, best validation IoU {self.best_val_iou:.3f}"
                + (f" ({self.val_iou_flip_averaged:.3f} with --flip-average)" if self.val_iou_flip_averaged else "")
                + f"; model in {self.model_path}")


class ValidationCrops(keras.callbacks.Callback):
    """Each epoch: the validation figures into the logs (val_loss, val_iou, and val_crop_iou, the exact mean
    IoU of the rotated crops by extractor.geometry.iou in displayed pixels, for early stopping and
    checkpoints), and a few validation photos with the photographer's crop (green) and the prediction
    (red) to TensorBoard.

    It runs the model itself, on every validation photo, outside any distribution strategy: Keras's own
    distributed evaluation would split the last, short batch across the replicas and hand some of them
    nothing (a crash in batch normalisation), or need photos dropped to make batches even."""

    def __init__(self, examples: pipeline.Examples, image_size: int, batch_size: int, loss: keras.losses.Loss,
                 log_dir: Path):
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

    def mean_iou(self, predictions: np.ndarray) -> float:
        """The exact mean IoU of these validation crops (geometry.iou of the rotated crops in displayed pixels)."""
        frame = self.examples.frame
        return float(np.mean([iou(Crop(*map(float, p)), Crop(*map(float, t)), w, h)
                              for p, t, w, h in zip(predictions, self.examples.labels,
                                                    frame["width"], frame["height"])]))

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        outputs = self.predict()
        predictions = crop_tf.kept_or_cropped(outputs).numpy()
        labels = self.examples.labels
        figures = {"val_loss": float(np.mean(self.loss.call(labels, outputs))),
                   "val_iou": float(np.mean(crop_tf.corner_box_iou(labels, predictions))),
                   MONITOR: self.mean_iou(predictions)}
        if logs is not None:
            logs.update(figures)
        images = [np.asarray(drawing.draw_crops(path, [(Crop(*map(float, t)), drawing.TRUE_COLOUR),
                                                       (Crop(*map(float, p)), drawing.MODEL_COLOUR)], long_side=256)
                                .resize((256, 256)))
                  for path, p, t in list(zip(self.examples.paths, predictions, labels))[:PREVIEWS]]
        if self.writer is None:
            self.writer = tf.summary.create_file_writer(str(self.log_dir / "previews"))
        with self.writer.as_default():
            tf.summary.image("validation crops (green: photographer, red: model)", np.stack(images), step=epoch,
                             max_outputs=PREVIEWS)
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
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
                                text=True, timeout=10).stdout.strip()
    except OSError:
        commit = ""
    return {"python": platform.python_version(), "tensorflow": tf.__version__, "keras": keras.__version__,
            "numpy": np.__version__, "pandas": pd.__version__, "pillow": PIL.__version__, "cropstyle_commit": commit}


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
    return {"path": str(dataset.resolve()), "labels_sha256": pipeline.file_sha256(labels),
            "rows": int(len(pd.read_csv(labels, usecols=["image"])))}


def _check_resume(out: Path, arguments: dict) -> dict:
    """The interrupted run's config.json, if `arguments` may resume it (else ValueError)."""
    try:
        before = Run.open(out).config
    except FileNotFoundError:
        raise ValueError(f"nothing to resume in {out}: no config.json") from None
    changed = [key for key in _RESUME_KEYS
               if before["arguments"].get(key, _RESUME_DEFAULTS.get(key)) != arguments[key]]
    if changed:
        raise ValueError(f"--resume needs the same arguments as the interrupted run; changed: {', '.join(changed)}")
    hashes = [d["labels_sha256"] for d in before["datasets"]]
    if hashes != [_dataset_record(Path(d))["labels_sha256"] for d in arguments["datasets"]]:
        raise ValueError("--resume: a dataset changed since the interrupted run")
    return before


# The schedule by dataset size: about TRAINING_STEPS optimizer steps for each model whatever the number of photos
# (a small library sees each photo more often, under augmentation; a large one fewer times), within the epoch bounds.
TRAINING_STEPS = 1500
EPOCH_BOUNDS = (15, 300)
# Three models by default, each with the whole schedule: on FCDB their mean's BDE was 0.0640–0.0655 where one
# model's was 0.0652–0.0694. Half the steps each held FCDB (0.0642–0.0650) but not the zoo's precise habits
# (`horizon` 0.877 against one model's 0.930, `thirds` 0.727 against 0.758): training/README.md.
ENSEMBLE = 3
# A member this far below the best member's validation IoU failed to learn rather than varied, and is left out of the
# mean (`trim`'s third held its height logit saturated: 0.947 on the test photos against 0.983 and 0.989, and the
# mean of raw outputs followed it, 0.947); FCDB's members differ by at most 0.007.
MEMBER_TOLERANCE = 0.02


def default_epochs(steps_per_epoch: int) -> int:
    """Epochs for `steps_per_epoch` batches an epoch: about TRAINING_STEPS steps for each model, within EPOCH_BOUNDS."""
    return int(min(max(-(-TRAINING_STEPS // steps_per_epoch), EPOCH_BOUNDS[0]), EPOCH_BOUNDS[1]))


def default_patience(epochs: int) -> int:
    """Epochs without a better validation IoU before training stops: a quarter of them, at least 10."""
    return max(10, epochs // 4)


def kept_members(members_val: Sequence[float]) -> list[int]:
    """The members an ensemble averages: those within MEMBER_TOLERANCE of the best member's validation IoU."""
    return [k for k, value in enumerate(members_val) if value >= max(members_val) - MEMBER_TOLERANCE]


def member_dir(run: Path, k: int) -> Path:
    """Where member k of an ensemble keeps what a single run keeps in RUN (history, logs, backup, its model)."""
    return run / "members" / str(k)


def _fit(data: tf.data.Dataset, model: keras.Model, out: Path, val_examples: pipeline.Examples, image_size: int,
         batch_size: int, crop_loss: CropLoss, resume: bool, epochs: int, steps: int, patience: int,
         callbacks: Sequence[keras.callbacks.Callback], verbose: int
         ) -> tuple[keras.Model | None, pd.DataFrame, dict[str, list[float]]]:
    """Fit one model, keeping its history, logs and backup in `out`: (the best epoch's model, or None where a run
    resumed after its end keeps the model.keras it has; the history; this session's Keras history)."""
    if not resume:
        shutil.rmtree(out / "backup", ignore_errors=True)
        shutil.rmtree(out / "logs", ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    history_path = out / "history.csv"
    best_so_far = None
    if resume and history_path.exists() and history_path.stat().st_size:
        best_so_far = float(pd.read_csv(history_path)[MONITOR].max())
    best_path = out / "best.keras"
    fit_callbacks = [
        keras.callbacks.BackupAndRestore(str(out / "backup")),
        ValidationCrops(val_examples, image_size, batch_size, crop_loss, out / "logs"),
        keras.callbacks.ModelCheckpoint(str(best_path), monitor=MONITOR, mode="max", save_best_only=True,
                                        initial_value_threshold=best_so_far),
        keras.callbacks.EarlyStopping(monitor=MONITOR, mode="max", patience=patience),
        keras.callbacks.CSVLogger(str(history_path), append=resume),
        keras.callbacks.TensorBoard(str(out / "logs"), write_graph=False),
        *callbacks,
    ]
    # shuffle=False: the dataset shuffles itself (seeded); Keras cannot shuffle a tf.data.Dataset.
    fit = model.fit(data, epochs=epochs, steps_per_epoch=steps, callbacks=fit_callbacks, verbose=verbose,
                    shuffle=False)
    history = pd.read_csv(history_path) if history_path.exists() else pd.DataFrame()
    fit_history = {key: [float(v) for v in values] for key, values in fit.history.items()}
    if best_path.exists():
        best = keras.saving.load_model(best_path)
        best_path.unlink()
    elif not (resume and (out / "model.keras").exists()):
        best = model
    else:
        best = None  # resumed after the end: model.keras is there already
    return best, history, fit_history


def train(datasets: list[Path], out: Path, *, epochs: int | None = None, batch_size: int = 32, image_size: int = 96,
          arch: str = "separable", weights: str | None = None, val_split: float = 0.2, seed: int = 0,
          resume: bool = False, loss: str = "huber", patience: int | None = None, learning_rate: float = 2e-3,
          mixed_precision: bool = False, flip_average: bool = False, ensemble: int = ENSEMBLE,
          devices: Sequence[str] | None = None, callbacks: Sequence[keras.callbacks.Callback] = (),
          verbose: int = 2) -> TrainResult:
    """Train `arch` on `datasets` (combined), writing RUN `out` (see the module docstring).

    epochs None: by dataset size (default_epochs); patience None: default_patience of the epochs.
    weights: None (from scratch), "imagenet" or a weights file, for arch "mobilenet". loss: "huber", "l1" or "mse"
    for the value term (training/losses.py). mixed_precision only applies on a GPU. flip_average: save
    RUN/model.keras with test-time flip averaging (about +0.005 IoU on FCDB, but twice the work per photo, which
    makes the browser slower than smartcrop.js on small photos; the gain is measured into config.json either
    way). ensemble (ENSEMBLE): train this many models on the same split, each from its own seed (seed, seed + 1,
    …; the first is the run with ensemble=1 and the same epochs), and save RUN/model.keras as their mean
    (training/model.py averaged): more accurate than any one of them, for `ensemble` times the training and the
    graph's work per photo. devices: train mirrored across these (default: all GPUs). callbacks: extra Keras
    callbacks. verbose: Keras fit verbosity (2 = one line per epoch).
    """
    started = time.time()
    out = Path(out)
    datasets = [Path(d) for d in datasets]
    if ensemble < 1:
        raise ValueError(f"--ensemble must be at least 1, not {ensemble}")
    if not 0 < val_split < 1:
        raise ValueError(f"--val-split must be between 0 and 1, not {val_split}")
    weights = None if weights in (None, "none") else str(weights)
    arguments = {"datasets": [str(d.resolve()) for d in datasets], "epochs": epochs, "batch_size": batch_size,
                 "image_size": image_size, "arch": arch, "weights": weights, "val_split": val_split, "seed": seed,
                 "loss": loss, "patience": patience, "learning_rate": learning_rate,
                 "mixed_precision": mixed_precision, "flip_average": flip_average, "ensemble": ensemble}
    before = _check_resume(out, arguments) if resume else {}
    if not resume:
        shutil.rmtree(out / "members", ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)

    # Repeatable: seeded Python/NumPy/TF generators, deterministic kernels, a seeded split and augmentation.
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()

    examples = pipeline.read_examples(datasets)
    train_examples, val_examples = pipeline.split(examples, val_split, seed)
    strategy = _strategy(devices)
    # Every training batch is full (training=True repeats the shuffled photos) and splits evenly over the
    # replicas, so none of a distributed fit ever gets a short or empty share (tf.distribute fails on
    # both); a batch is never larger than the photos there are, rounded down to a multiple of the replicas.
    replicas = strategy.num_replicas_in_sync
    batch_size = replicas * max(1, min(batch_size, len(train_examples)) // replicas)
    steps = -(-len(train_examples) // batch_size)  # an epoch: every photo once, on average
    epochs = epochs or default_epochs(steps)
    patience = patience or default_patience(epochs)

    # Whether the photographer ever leaves a photo uncropped is in the data: only then does the model learn to.
    # (Learning "always crop" instead cost photographers who crop every photo: `trim` 0.947 against 0.989.)
    keep_decision = bool(crop_tf.is_full_frame(train_examples.labels).numpy().any())
    crop_loss = CropLoss(value_loss=loss)

    def member(k: int) -> tuple[tf.data.Dataset, keras.Model]:
        """Member k's training data and compiled model: the same split, its own seed (k = 0: `seed`'s run, the
        same as without an ensemble) for the weights, the shuffling and the augmentation."""
        if k:
            keras.utils.set_random_seed(seed + k)
        data = pipeline.make_dataset(train_examples, image_size, batch_size, training=True, seed=seed + k)
        use_mixed = mixed_precision and bool(tf.config.list_physical_devices("GPU"))
        keras.mixed_precision.set_global_policy("mixed_float16" if use_mixed else "float32")
        with strategy.scope():
            model = training_view(build_model(arch, image_size, weights, keep_decision=keep_decision))
            schedule = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=max(1, epochs * steps),
                                                              alpha=0.05)
            model.compile(optimizer=keras.optimizers.AdamW(schedule, weight_decay=1e-4), loss=crop_loss,
                          metrics=[CornerBoxIoU()])
        keras.mixed_precision.set_global_policy("float32")
        return data, model

    first_data, first_model = member(0)
    config = {
        "arguments": arguments,
        "datasets": [_dataset_record(d) for d in datasets],
        "split": {"train": len(train_examples), "val": len(val_examples), "by": "source photo and image hash"},
        "batch": {"size": batch_size, "steps_per_epoch": steps, "replicas": replicas},
        "schedule": {"epochs": epochs, "patience": patience, "rule": "about {} steps (for each member of an "
                     "ensemble), epochs within {}, patience a quarter of them (at least 10): training/train.py"
                     .format(TRAINING_STEPS, list(EPOCH_BOUNDS))},
        "preprocessing": {**pipeline.PREPROCESSING, "image_size": image_size,
                          "source_long_side": _source_long_side(train_examples.paths)},
        "model": {"arch": arch, "parameters": int(first_model.count_params()) * ensemble, "outputs": list(LABEL_VALUES),
                  "keep_decision": keep_decision, "ensemble": ensemble},
        "loss": {"name": "CropLoss", "value_loss": loss, "iou_weight": 1.0, "value_weight": 1.0,
                 "keep_weight": crop_loss.keep_weight,
                 "definition": "training/losses.py"},
        "augmentation": f"zoom (p {pipeline.ZOOM_PROBABILITY}: a random window {pipeline.ZOOM_SMALLEST}–1 of the frame "
                        "that holds the whole crop, label moved exactly), "
                        "horizontal flip (label mirrored, angle negated), brightness ±0.08, contrast ×0.85–1.15 "
                        "about the mean, saturation ×0.85–1.15 about the luma (training/pipeline.py augment)",
        "versions": _versions(),
    }
    if "validation" in before:  # resumed after the end: model.keras and its figures stay as they were
        config["validation"] = before["validation"]
    (out / "config.json").write_text(json.dumps(config, indent=2))
    (out / "baselines.json").write_text(json.dumps({
        "mean": train_examples.labels.astype(float).mean(axis=0).tolist(),
        "train_crops": train_examples.labels.astype(float).round(6).tolist(),
    }))
    (out / "split.json").write_text(json.dumps({"train": train_examples.frame["image"].tolist(),
                                                "val": val_examples.frame["image"].tolist()}, indent=0))
    if verbose:
        print(device_line(strategy))
        print(f"training {arch} ({first_model.count_params():,} parameters"
              + (f", {ensemble} members" if ensemble > 1 else "") + f") on {len(train_examples)} photos, "
              f"validating on {len(val_examples)}, {image_size} px, batch {batch_size}, up to {epochs} epochs")

    fitted = []
    for k in range(ensemble):
        where = out if ensemble == 1 else member_dir(out, k)
        if resume and ensemble > 1 and (where / "model.keras").exists() and not (where / "backup").exists():
            fitted.append((None, pd.read_csv(where / "history.csv"), {}))  # finished before the interruption
            continue
        if verbose and ensemble > 1:
            print(f"member {k + 1} of {ensemble} (seed {seed + k}), in {where}")
        data, model = (first_data, first_model) if k == 0 else member(k)
        fitted.append(_fit(data, model, where, val_examples, image_size, batch_size, crop_loss, resume, epochs, steps,
                           patience, callbacks, verbose))
        if ensemble > 1 and fitted[-1][0] is not None:
            fitted[-1][0].save(where / "model.keras")  # RUN/model.keras is made of the members' models
    validation = ValidationCrops(val_examples, image_size, batch_size, crop_loss, out / "logs")
    if ensemble == 1:
        best, history, _ = fitted[0]
        best_val_iou = float(history[MONITOR].max()) if MONITOR in history else None
        described, members = "best epoch", {}
    else:  # members stand in RUN/members/K/model.keras; RUN/model.keras averages those that learned
        members_val = [float(h[MONITOR].max()) for _, h, _ in fitted]
        kept = kept_members(members_val)
        models = [keras.saving.load_model(member_dir(out, k) / "model.keras") for k in kept]
        best = averaged(models) if len(models) > 1 else models[0]
        best_val_iou = validation.mean_iou(crop_tf.kept_or_cropped(validation.predict(best)).numpy())
        left_out = [k for k in range(ensemble) if k not in kept]
        if verbose and left_out:
            print(f"left out of the mean: member(s) {', '.join(map(str, left_out))}, validation IoU more than "
                  f"{MEMBER_TOLERANCE} below the best member's ({max(members_val):.3f})")
        described = f"mean of {len(kept)} members' best epochs" if len(kept) > 1 else f"member {kept[0]}'s best epoch"
        members = {"members_val_crop_iou": members_val, "members_kept": kept}
    if best is not None:
        averaged_flips = flip_averaged(best)
        (averaged_flips if flip_average else decided(best)).save(out / "model.keras")
        config["validation"] = {"val_crop_iou": best_val_iou,
                                "val_crop_iou_flip_averaged": validation.mean_iou(validation.predict(averaged_flips)),
                                "model_keras": described + (", flip averaged" if flip_average else ""),
                                "what": "exact mean IoU on the validation photos of the best epoch's model, "
                                        "alone and with test-time flip averaging", **members}
        (out / "config.json").write_text(json.dumps(config, indent=2))
    result = TrainResult(
        run=out, model_path=out / "model.keras", epochs=sum(len(h) for _, h, _ in fitted),
        best_val_iou=float("nan") if best_val_iou is None else best_val_iou,
        n_train=len(train_examples), n_val=len(val_examples), seconds=time.time() - started,
        history=fitted[0][2] if ensemble == 1 else {},
        val_iou_flip_averaged=config.get("validation", {}).get("val_crop_iou_flip_averaged"),
    )
    if verbose:
        print(result.report())
    return result
