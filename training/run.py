"""A training RUN: its layout, owned here and used by the writer (`cropstyle train`) and every reader.

RUN/config.json        arguments, datasets, split sizes, preprocessing (training/pipeline.py), the model's
                       architecture, the validation figures of RUN/model.keras and the calibration of its
                       confidence (training/confidence.py): read when the RUN is opened
RUN/model.keras        the model: the mean of the members that learned (one member: its best epoch); it gives each
                       photo's crop and its confidence, [B, 6] (RUNs trained before the confidence: the crop, [B, 5])
RUN/split.json         the training and validation images (by name)
RUN/baselines.json     the training crops and their mean (the `mean` and `random` baselines)
RUN/members/K/         member K of the ensemble (K = 0 … ensemble − 1), always, even for one model:
    model.keras        its best epoch
    history.csv        one line per epoch
    start.json         when fine-tuned (training/fine_tune.py): what it started from and that model's validation IoU
    logs/              TensorBoard: losses, metrics, validation previews
    backup/            the state --resume continues from after an interruption (removed when its training ends)
RUN/evaluation.json    the last `cropstyle evaluate` of this RUN on held-out photos, if any
RUN/starts/NAME/       with `--start auto` on GENERAL_BELOW to CHOOSE_BELOW photos (training/options.py): a RUN for
                       each start it compared (general, scratch); the files above are a copy of the one kept, and
                       config.json's `start_choice` gives both validation IoUs

`evaluate`, `predict`, `apply` and `export` open a RUN through `Run.open`; the export hands the preprocessing
on to the browser in WEBMODEL/metadata.json.
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from cropstyle.extractor.dataset import TRAINING_LONG_SIDE
from cropstyle.training.general import GENERAL_MODEL

if TYPE_CHECKING:
    from cropstyle.training.confidence import Calibration

CONFIG, MODEL, SPLIT, BASELINES, EVALUATION = (
    "config.json",
    "model.keras",
    "split.json",
    "baselines.json",
    "evaluation.json",
)
MEMBERS = "members"
STARTS = "starts"
HISTORY, LOGS, BACKUP = "history.csv", "logs", "backup"  # in each member's folder, beside its MODEL
MONITOR = "val_crop_iou"  # the history's column a member's best epoch is chosen by: exact mean IoU on validation


def member_dir(run: Path, k: int) -> Path:
    """RUN/members/K: member k's model, history, logs and backup."""
    return Path(run) / MEMBERS / str(k)


class Run:
    """An opened RUN folder. Files other than config.json are read on first use, once."""

    def __init__(self, path: Path, config: dict):
        self.path, self.config = Path(path), config

    @classmethod
    def open(cls, path: Path) -> Run:
        path = Path(path)
        if not (path / CONFIG).is_file():
            raise FileNotFoundError(
                f"{path} is not a training run: it has no {CONFIG} (make one with `cropstyle train`)"
            )
        return cls(path, json.loads((path / CONFIG).read_text()))

    @property
    def preprocessing(self) -> dict:
        """training/pipeline.PREPROCESSING with this RUN's image_size and source_long_side, as train wrote it."""
        stored = self.config["preprocessing"]
        if "resize" in stored:
            return stored
        # Runs made before the description was structured stored text only; the steps themselves are unchanged.
        from cropstyle.training.pipeline import preprocessing

        return preprocessing(stored["image_size"], stored.get("source_long_side", TRAINING_LONG_SIDE))

    @property
    def image_size(self) -> int:
        """The model's input side in pixels."""
        return int(self.preprocessing["image_size"])

    @property
    def source_long_side(self) -> int:
        """The long side of the training images (the extractor's --size): photos are brought down to it first."""
        return int(self.preprocessing["source_long_side"])

    @property
    def model_path(self) -> Path:
        return self.path / MODEL

    def load_model(self):
        """RUN/model.keras as a Keras model (not compiled). A RUN shipped without it (the general model: no file over
        2 MB) has it remade from its members, exactly as `cropstyle train` made it."""
        import keras

        from cropstyle.training import confidence
        from cropstyle.training import losses as _losses  # noqa: F401  (these register the custom objects it names)
        from cropstyle.training import model as _model  # noqa: F401

        if self.model_path.is_file():
            return keras.saving.load_model(self.model_path, compile=False)
        final = self.combined_members()
        calibration = self.calibration
        return final if calibration is None else confidence.with_confidence(final, calibration)

    def combined_members(self):
        """The kept members combined as `cropstyle train` combines them (their mean, flip averaged if the RUN is),
        without the confidence: the crop [B, 5]."""
        import keras

        from cropstyle.training import losses as _losses  # noqa: F401  (registers the custom objects it names)
        from cropstyle.training import model as _model

        kept = self.config.get("validation", {}).get("members_kept")
        if not kept or not all((member_dir(self.path, k) / MODEL).is_file() for k in kept):
            raise FileNotFoundError(f"{self.path} has no {MODEL}: training did not finish")
        members = [keras.saving.load_model(member_dir(self.path, k) / MODEL, compile=False) for k in kept]
        best = _model.averaged(members) if len(members) > 1 else members[0]
        return _model.flip_averaged(best) if self.config["arguments"].get("flip_average") else _model.decided(best)

    @property
    def calibration(self) -> Calibration | None:
        """How the model's confidence is calibrated (training/confidence.py); None for RUNs trained before it."""
        from cropstyle.training.confidence import Calibration

        stored = self.config.get("confidence")
        return None if stored is None else Calibration.from_dict(stored)

    @functools.cached_property
    def model_sha256(self) -> str:
        """Of RUN/model.keras, or of the kept members' files and the confidence's calibration when the model is
        remade from them (a new calibration is a new model: its confidence changes)."""
        kept = self.config.get("validation", {}).get("members_kept", [])
        remade = not self.model_path.is_file()
        paths = [member_dir(self.path, k) / MODEL for k in kept] if remade else [self.model_path]
        digest = hashlib.sha256()
        for path in paths:
            with open(path, "rb") as file:
                for block in iter(lambda: file.read(1 << 20), b""):
                    digest.update(block)
        if remade and "confidence" in self.config:
            digest.update(json.dumps(self.config["confidence"], sort_keys=True).encode())
        return digest.hexdigest()

    @property
    def datasets(self) -> list[Path]:
        return [Path(dataset["path"]) for dataset in self.config["datasets"]]

    @functools.cached_property
    def split(self) -> dict[str, list[str]]:
        """{"train": [image, ...], "val": [...]}: the labels.csv `image` of every photo trained or validated on."""
        return json.loads((self.path / SPLIT).read_text())

    def seen(self, image: str) -> bool:
        """Whether the RUN trained or validated on this image content (images are named by their hash)."""
        return Path(image).stem in self._seen_stems

    @functools.cached_property
    def _seen_stems(self) -> frozenset[str]:
        return frozenset(Path(image).stem for image in self.split["train"] + self.split["val"])

    @functools.cached_property
    def baselines(self) -> dict:
        """{"mean": [5 values], "train_crops": [[5 values], ...]}."""
        return json.loads((self.path / BASELINES).read_text())

    @property
    def ensemble(self) -> int:
        """How many members the RUN trained."""
        return int(self.config["arguments"].get("ensemble", 1))

    @functools.cached_property
    def histories(self) -> list[pd.DataFrame | None]:
        """Each member's history.csv (None where missing: a member that never finished an epoch)."""
        histories = []
        for k in range(self.ensemble):
            try:
                histories.append(pd.read_csv(member_dir(self.path, k) / HISTORY))
            except (OSError, pd.errors.EmptyDataError):
                histories.append(None)
        return histories

    @property
    def evaluation(self) -> dict | None:
        """The last `cropstyle evaluate` of this RUN (RUN/evaluation.json), or None."""
        path = self.path / EVALUATION
        return json.loads(path.read_text()) if path.is_file() else None

    @property
    def shipped(self) -> bool:
        """Whether this is the general model shipped in the package (training/general_model): read, never written."""
        return self.path.resolve() == GENERAL_MODEL.resolve()

    def record_evaluation(self, figures: dict) -> None:
        """Keep `figures` as RUN/evaluation.json (the export's metadata.json carries them); not in the shipped
        general model, whose folder is the package's (read-only once installed), not the user's."""
        if not self.shipped:
            (self.path / EVALUATION).write_text(json.dumps(figures, indent=2))
