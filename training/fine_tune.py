"""Where a training run starts (`cropstyle train --start auto|general|scratch|RUN`): from the shipped general model's
members (fine-tuning), from another RUN's members, or from scratch. `auto`, the default, goes by the number of photos
the datasets hold (docs/results.md, "Starting from the general model"): below GENERAL_BELOW the general model (with
10 crops it is better or as good on FCDB and the zoo); from GENERAL_BELOW to CHOOSE_BELOW both starts, keeping the one
better on the validation photos (`starts_to_compare`; train.py trains them): there the general start is better on
real photos and worse on most drawn habits, so no rule by size picks for every photographer; from CHOOSE_BELOW on,
scratch.

Without --arch a run builds its start's architecture (the general model's is `pretrained`), and SCRATCH_ARCH from
scratch. Member k of the new RUN starts from member k of the start RUN (k modulo its members), weight by weight: the
same architecture builds the same weights in the same order. Only the head's last layer may differ, when one RUN makes
the keep-the-frame decision and the other does not: its first five outputs (the crop) are copied, a sixth keeps its
starting value.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import keras

from cropstyle.training import run as layout
from cropstyle.training.general import GENERAL, resolve_run
from cropstyle.training.options import CHOOSE_BELOW, GENERAL_BELOW, SCRATCH_ARCH

SCRATCH, AUTO = "scratch", "auto"


@dataclass(frozen=True)
class Start:
    """What a RUN starts from: `members` (the start RUN's member models, empty from scratch), the architecture the run
    builds, and why, in words."""

    members: tuple[Path, ...]
    arch: str
    described: str

    @property
    def from_scratch(self) -> bool:
        return not self.members


def resolve_start(start: str, arch: str | None, image_size: int, photos: int) -> Start:
    """The start of a run with this architecture (None: the start's, SCRATCH_ARCH from scratch) and input size on
    `photos` photos. The general model is used where it fits (its architecture and input size); where it does not,
    the run starts from scratch and says why. Another RUN that does not fit is refused (ValueError, one line)."""
    scratch_arch = arch or SCRATCH_ARCH
    if start == AUTO:  # below CHOOSE_BELOW photos the general model; from GENERAL_BELOW train.py compares the two
        if photos >= CHOOSE_BELOW:
            why = f"{photos} photos: from {CHOOSE_BELOW} on, scratch learns a habit better"
            return Start((), scratch_arch, f"from scratch ({why})")
        start = GENERAL
    if start == SCRATCH:
        return Start((), scratch_arch, "from scratch")
    run = resolve_run(start)
    config_path = run / layout.CONFIG
    if not config_path.is_file():
        raise ValueError(f"--start {start}: no trained RUN there (no {config_path})")
    config = json.loads(config_path.read_text())
    their_arch, their_size = config["model"]["arch"], config["arguments"]["image_size"]
    wanted = arch or their_arch
    if (their_arch, their_size) != (wanted, image_size):
        why = f"its model is {their_arch} at {their_size} px, this run's {wanted} at {image_size} px"
        if start == GENERAL:
            return Start((), scratch_arch, f"from scratch (not from the general model: {why})")
        raise ValueError(f"--start {start}: cannot start from that RUN: {why}")
    members = tuple(layout.member_dir(run, k) / layout.MODEL for k in range(config["model"].get("ensemble", 1)))
    missing = [str(path) for path in members if not path.is_file()]
    if missing:
        raise ValueError(f"--start {start}: member model missing: {missing[0]}")
    return Start(members, their_arch, "from the general model" if start == GENERAL else f"from {run}")


def starts_to_compare(start: str, arch: str | None, image_size: int, photos: int) -> tuple[str, ...]:
    """The starts a run on `photos` photos trains side by side, to keep the one better on the validation photos:
    with `auto` from GENERAL_BELOW to CHOOSE_BELOW photos, the general model and scratch, where the general model
    fits this architecture and input size; otherwise none (the run has one start, resolve_start's)."""
    if start != AUTO or not GENERAL_BELOW <= photos < CHOOSE_BELOW:
        return ()
    if resolve_start(GENERAL, arch, image_size, photos).from_scratch:  # the general model does not fit
        return ()
    return (GENERAL, SCRATCH)


def load_start(model: keras.Model, member: Path) -> None:
    """Set `model`'s weights to the start member's (see the module docstring)."""
    source = keras.saving.load_model(member, compile=False)
    ours, theirs = model.weights, source.weights
    if len(ours) != len(theirs):
        raise ValueError(
            f"cannot start from {member}: {len(theirs)} weights against this model's {len(ours)} "
            "(another design of model, such as one trained by an earlier cropstyle)"
        )
    for weight, value in zip(ours, theirs):
        value = keras.ops.convert_to_numpy(value)
        if weight.shape == value.shape:
            weight.assign(value)
        elif weight.shape[:-1] == value.shape[:-1]:  # the head's last layer, with or without the decision
            current = keras.ops.convert_to_numpy(weight).copy()
            shared = min(weight.shape[-1], value.shape[-1])
            current[..., :shared] = value[..., :shared]
            weight.assign(current)
        else:
            raise ValueError(f"cannot start from {member}: weight {weight.path} is {weight.shape}, not {value.shape}")


def member_start(start: Start, k: int) -> Path | None:
    """The start model of member k, None from scratch."""
    return start.members[k % len(start.members)] if start.members else None
