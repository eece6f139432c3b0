"""A training RUN, read once: what `cropstyle train` left in the folder, for everything that uses the model.

RUN/config.json      arguments, datasets, split sizes, preprocessing (the image size, the training images' long
                     side), the model's architecture: read when the RUN is opened
RUN/model.keras      the model
RUN/split.json       the training and validation images (by name)
RUN/baselines.json   the training crops and their mean (the `mean` and `random` baselines)
RUN/history.csv      one line per epoch
RUN/evaluation.json  the last `cropstyle evaluate` of this RUN on held-out photos, if any

`evaluate`, `predict`, `apply` and `export` open a RUN through `Run.open`; the export hands the preprocessing
on to the browser in WEBMODEL/metadata.json.
"""
from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path

import pandas as pd

from cropstyle.extractor.dataset import TRAINING_LONG_SIDE

CONFIG, MODEL, SPLIT, BASELINES, HISTORY, EVALUATION = (
    "config.json", "model.keras", "split.json", "baselines.json", "history.csv", "evaluation.json")


class Run:
    """An opened RUN folder. Files other than config.json are read on first use, once."""

    def __init__(self, path: Path, config: dict):
        self.path, self.config = Path(path), config

    @classmethod
    def open(cls, path: Path) -> Run:
        path = Path(path)
        if not (path / CONFIG).is_file():
            raise FileNotFoundError(f"{path} is not a training run: it has no {CONFIG} "
                                    "(make one with `cropstyle train`)")
        return cls(path, json.loads((path / CONFIG).read_text()))

    @property
    def preprocessing(self) -> dict:
        """training/pipeline.PREPROCESSING with this RUN's image_size and source_long_side."""
        return self.config["preprocessing"]

    @property
    def image_size(self) -> int:
        """The model's input side in pixels."""
        return int(self.preprocessing["image_size"])

    @property
    def source_long_side(self) -> int:
        """The long side of the training images (the extractor's --size): photos are brought down to it first."""
        return int(self.preprocessing.get("source_long_side", TRAINING_LONG_SIDE))

    @property
    def model_path(self) -> Path:
        return self.path / MODEL

    def load_model(self):
        """RUN/model.keras as a Keras model (not compiled)."""
        if not self.model_path.is_file():
            raise FileNotFoundError(f"{self.path} has no {MODEL}: training did not finish")
        import keras

        from cropstyle.training import losses as _losses  # noqa: F401  (registers the custom objects it names)
        from cropstyle.training import model as _model  # noqa: F401

        return keras.saving.load_model(self.model_path, compile=False)

    @functools.cached_property
    def model_sha256(self) -> str:
        digest = hashlib.sha256()
        with open(self.model_path, "rb") as file:
            for block in iter(lambda: file.read(1 << 20), b""):
                digest.update(block)
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

    @functools.cached_property
    def history(self) -> pd.DataFrame | None:
        try:
            return pd.read_csv(self.path / HISTORY)
        except (OSError, pd.errors.EmptyDataError):
            return None

    @property
    def evaluation(self) -> dict | None:
        """The last `cropstyle evaluate` of this RUN (RUN/evaluation.json), or None."""
        path = self.path / EVALUATION
        return json.loads(path.read_text()) if path.is_file() else None

    def record_evaluation(self, figures: dict) -> None:
        (self.path / EVALUATION).write_text(json.dumps(figures, indent=2))
