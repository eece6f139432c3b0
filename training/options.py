"""The arguments of a training run and their defaults, stated once: `cropstyle train` takes its defaults from here,
`train()` its values. No TensorFlow here, so that the command line's help stays fast."""

from __future__ import annotations

from dataclasses import asdict, dataclass

ARCHS = ("separable", "compact", "pretrained", "mobilenet")  # training/model.py build_model
# What a run from scratch builds without --arch: on the drawn habits it learns better than `pretrained` does, the
# more so the more photos (docs/results.md, "Pretrained features"). Fine-tuning builds its start's architecture.
SCRATCH_ARCH = "separable"
LOSSES = ("huber", "l1", "mse")  # the value term beside the IoU term (training/losses.py)
# Arguments that must be the same to --resume a run, and what runs made before one of them existed had.
RESUME_KEYS = (
    "datasets",
    "batch_size",
    "image_size",
    "arch",
    "weights",
    "val_split",
    "seed",
    "loss",
    "ensemble",
    "start",
)
RESUME_DEFAULTS = {"ensemble": 1, "start": "scratch"}
# Photos: below GENERAL_BELOW `--start auto` fine-tunes the general model; from there to CHOOSE_BELOW, where neither
# start is better for every photographer, it trains both and keeps the one better on the validation photos; from
# CHOOSE_BELOW on it trains from scratch (docs/results.md, "Starting from the general model").
GENERAL_BELOW = 25
CHOOSE_BELOW = 100


@dataclass(frozen=True)
class TrainOptions:
    """What a RUN is trained with (config.json's `arguments`, less the datasets).

    epochs None: by dataset size (train.epoch_plan); patience None: train.default_patience of the epochs.
    weights: None (from scratch), "imagenet" or a weights file, for arch "mobilenet". mixed_precision applies only
    on a GPU. flip_average: RUN/model.keras averages each photo with its mirror image (twice the work per photo).
    ensemble: this many models on the same split, seeds seed, seed + 1, …; RUN/model.keras is their mean.
    """

    epochs: int | None = None
    batch_size: int = 32
    image_size: int = 96
    # None: the start's architecture when fine-tuning (the general model's is `pretrained`), else SCRATCH_ARCH.
    arch: str | None = None
    weights: str | None = None
    val_split: float = 0.2
    seed: int = 0
    loss: str = "huber"
    patience: int | None = None
    learning_rate: float = 2e-3
    mixed_precision: bool = False
    flip_average: bool = False
    # Three models: their mean is more accurate than one on real photos, for three times the training
    # (docs/results.md, "Ensemble").
    ensemble: int = 3
    # Where the weights start: "auto" (by the number of photos: GENERAL_BELOW and CHOOSE_BELOW above), "general"
    # (the shipped general model, where its architecture and input size fit), "scratch", or a RUN's folder
    # (training/fine_tune.py).
    start: str = "auto"

    def __post_init__(self) -> None:
        if self.ensemble < 1:
            raise ValueError(f"--ensemble must be at least 1, not {self.ensemble}")
        if not 0 < self.val_split < 1:
            raise ValueError(f"--val-split must be between 0 and 1, not {self.val_split}")
        if self.arch is not None and self.arch not in ARCHS:
            raise ValueError(f"--arch must be one of {', '.join(ARCHS)}, not {self.arch!r}")
        if self.loss not in LOSSES:
            raise ValueError(f"--loss must be one of {', '.join(LOSSES)}, not {self.loss!r}")
        object.__setattr__(self, "start", str(self.start))
        if self.weights == "none":
            object.__setattr__(self, "weights", None)
        elif self.weights is not None:
            object.__setattr__(self, "weights", str(self.weights))

    def as_dict(self) -> dict:
        return asdict(self)


DEFAULTS = TrainOptions()
