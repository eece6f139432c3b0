"""Benchmark: does the model learn crop styles we did not write?

Trains with the defaults (`cropstyle train`, nothing tuned per style) and evaluates against every baseline
(`cropstyle evaluate`) on:

- each style of the zoo (samples/styles.py, all but `classic`): 400 training photos (seed 1) and 100 test photos
  (seed 2), written as Lightroom writes them and read back by `cropstyle extract` (--include-uncropped, so the
  `uncropped` photographer's uncropped photos count as full-frame crops);
- FCDB (../shared/datasets/fcdb-train: real Flickr photos with human crops): a fixed split of its training
  folder, 1068 photos to train on and 267 to test on, by the SHA-256 of "cropstyle-fcdb:" + the file name
  (the 267 smallest are the test photos). The photos never leave data/ (ignored by git).

It prints one table (model and each baseline: IoU, BDE, angle MAE; training time), then what the model's
confidence is worth on the test photos of each dataset (training/confidence.py) against issue 29's targets, the
ranked alternatives at 1:1 and 4:5 against the largest crop of that ratio inside the model's, and the learning
curve: model IoU against 10, 25, 50, 100 and 400 training photos (a seeded subset of the training photos, 80 %
trained on), from scratch and fine-tuned from the general model, against issue 28's targets, and `auto`, the
default's start, read off the two: the general start below 25 photos, from 25 to 99 the one of the two whose RUN is
better on its validation photos (what `cropstyle train` does there: it trains both, on the same split with the same
seeds), scratch from 100 on.

The table's runs start from scratch (`--start scratch`): they are the learning curve's "all" from scratch. The general
model was trained on all of FCDB, this split's test photos included, so on FCDB the curve fine-tunes from
WORK/fcdb/general-run instead: the general model's recipe (`--arch pretrained`, training/general.py) on the 1068
training photos alone, the table's row `general`. On the zoo it fine-tunes from the shipped general model, which never
saw a drawing.

    .venv/bin/python bench/quality.py [--data fcdb,thirds,...] [--curve fcdb,thirds,...] [--curve-sizes 10,25,...]
                                      [--ensemble N] [--work data/quality] [--out data/bench-quality.json]
                                      [--reuse-runs]

--curve: the datasets of the learning curve (default: those of --data; `none` for no curve); --curve-sizes: its
sizes (default 10,25,50,100,400).
--ensemble N trains with `cropstyle train --ensemble N` instead of the defaults (3 models, their mean);
--curve-ensemble N the same for the learning curve alone (default: --ensemble's).
--reuse-runs evaluates the RUN already in WORK/NAME/run… where there is one (calibrating its confidence again first,
with this cropstyle's features) instead of training anew.

Datasets are made once under --work and reused; runs and reports are made anew each time.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path

import pandas as pd

PROJECT = Path(__file__).resolve().parents[1]
FCDB = PROJECT.parent / "shared" / "datasets" / "fcdb-train"
TRAIN_PHOTOS, TEST_PHOTOS = 400, 100
FCDB_TEST_PHOTOS = 267
CURVE_SIZES = (10, 25, 50, 100, 400)
STARTS = ("scratch", "general")  # the curve's two arms: `cropstyle train --start scratch`, and the general start
BASELINES = ("full", "mean", "random", "saliency")
REFERENCE = "saliency_true_size"  # told the true crop's size: shown, never counted as a baseline


def zoo_styles() -> list[str]:
    from cropstyle.samples.styles import CLASSIC, STYLES

    return [name for name in STYLES if name != CLASSIC]


def zoo_datasets(style: str, work: Path) -> tuple[Path, Path]:
    """(training dataset, test dataset) of one zoo style: libraries written by the sample generator, extracted."""
    from cropstyle.extractor.extract import extract
    from cropstyle.samples.library import make_sample_library

    datasets = []
    for part, count, seed in (("train", TRAIN_PHOTOS, 1), ("test", TEST_PHOTOS, 2)):
        library, dataset = work / style / f"library-{part}", work / style / f"dataset-{part}"
        if not (dataset / "labels.csv").exists():
            shutil.rmtree(library, ignore_errors=True)
            make_sample_library(library, count=count, seed=seed, style=style)
            extract([library], dataset, include_uncropped=True, progress=False)
        datasets.append(dataset)
    return datasets[0], datasets[1]


def fcdb_split(files: list[str]) -> set[str]:
    """The FCDB photos held out for testing (see the module docstring)."""
    order = sorted(files, key=lambda name: hashlib.sha256(f"cropstyle-fcdb:{name}".encode()).hexdigest())
    return set(order[:FCDB_TEST_PHOTOS])


def fcdb_datasets(work: Path) -> tuple[Path, Path]:
    """(training dataset, test dataset) from FCDB's crops.csv, split by fcdb_split (training/general.py renders
    them, as for the general model)."""
    from cropstyle.training.general import fcdb_dataset, fcdb_rows

    if not (FCDB / "crops.csv").is_file():
        raise FileNotFoundError(f"FCDB is missing at {FCDB}")
    files = [row["file"] for row in fcdb_rows(FCDB)]
    held_out = fcdb_split(files)
    train = fcdb_dataset(FCDB, work / "fcdb" / "dataset-train", set(files) - held_out)
    test = fcdb_dataset(FCDB, work / "fcdb" / "dataset-test", held_out)
    return train, test


def datasets_for(name: str, work: Path) -> tuple[Path, Path]:
    return fcdb_datasets(work) if name == "fcdb" else zoo_datasets(name, work)


def subset(dataset: Path, count: int, out: Path, seed: int = 0) -> Path:
    """The first `count` photos of `dataset` in a seeded order, as a dataset of its own (images linked)."""
    frame = pd.read_csv(dataset / "labels.csv", dtype=str, keep_default_na=False)
    frame = frame.sample(frac=1.0, random_state=seed).head(count)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    os.symlink((dataset / "images").resolve(), out / "images")
    frame.to_csv(out / "labels.csv", index=False)
    return out


def general_start(name: str, work: Path) -> str:
    """The general start of a dataset's curve: the general model's recipe on FCDB's training photos (the shipped
    general model saw FCDB's test photos), else the shipped general model."""
    return str(work / "fcdb" / "general-run") if name == "fcdb" else "general"


def train_and_evaluate(
    train_dataset: Path,
    test_dataset: Path,
    run: Path,
    ensemble: int | None = None,
    reuse: bool = False,
    start: str = "scratch",
    arch: str | None = None,
) -> dict:
    from cropstyle.training.evaluate import evaluate
    from cropstyle.training.run import Run

    if reuse and (run / "config.json").is_file() and "validation" in Run.open(run).config:
        from cropstyle.training.confidence import calibrate_run

        calibrate_run(run, verbose=False)  # with this cropstyle's features, whatever the RUN was calibrated with
        opened = Run.open(run)
        trained = {
            "n_train": opened.config["split"]["train"],
            "n_val": opened.config["split"]["val"],
            "epochs": sum(len(history) for history in opened.histories if history is not None),
            "train_seconds": None,
            "val_iou": opened.config["validation"]["val_crop_iou"],
        }
    else:
        from cropstyle.training.options import DEFAULTS
        from cropstyle.training.train import train

        shutil.rmtree(run, ignore_errors=True)
        started = time.perf_counter()
        result = train([train_dataset], run, ensemble=ensemble or DEFAULTS.ensemble, verbose=0, start=start, arch=arch)
        trained = {
            "n_train": result.n_train,
            "n_val": result.n_val,
            "epochs": result.epochs,
            "train_seconds": round(time.perf_counter() - started, 1),
            "val_iou": result.best_val_iou,
        }
    report = evaluate(run, [test_dataset], run / "report", verbose=False)
    return {
        **trained,
        "start": start,
        "ensemble": Run.open(run).ensemble,
        "n_test": report["n"],
        "methods": report["methods"],
        "confidence": report["confidence"],
        "aspects": aspect_figures(run, test_dataset),
    }


ASPECTS = {"1:1": 1.0, "4:5": 0.8}  # issue 29's ratios for the ranked alternatives


def fitted_to_aspect(crop, aspect: float, width: float, height: float, steps: int = 64):
    """The photographer's crop fitted to a ratio: of the crops of that ratio with its centre and angle (moved into
    the frame), the one with the highest IoU with it, from the largest inside it to the smallest holding it."""
    import numpy as np

    from cropstyle.extractor.geometry import RotatedRect, crop_to_rect, fit_in_frame, iou, rect_to_crop

    rect = crop_to_rect(crop, width, height)
    candidates = [
        rect_to_crop(
            fit_in_frame(RotatedRect(rect.cx, rect.cy, w, w / aspect, rect.angle), width, height), width, height
        )
        for w in np.linspace(min(rect.width, rect.height * aspect), max(rect.width, rect.height * aspect), steps)
    ]
    return max(candidates, key=lambda candidate: iou(candidate, crop, width, height))


def aspect_figures(run: Path, test_dataset: Path) -> dict:
    """At each of ASPECTS, mean IoU with the photographer's crop fitted to it (fitted_to_aspect) of: the largest crop
    of that ratio inside the model's (the rule before the ranked alternatives), the first ranked alternative, the
    best of the three; and how many distinct alternatives there were."""
    import numpy as np

    from cropstyle.extractor.geometry import Crop, aspect_alternatives, iou, largest_with_aspect
    from cropstyle.training import pipeline
    from cropstyle.training.evaluate import model_outputs
    from cropstyle.training.run import Run

    opened = Run.open(run)
    examples = pipeline.read_examples([test_dataset])
    examples = examples.subset(np.array([not opened.seen(image) for image in examples.frame["image"]]))
    crops, _ = model_outputs(opened, examples)
    sizes = list(zip(examples.frame["width"].astype(float), examples.frame["height"].astype(float)))
    figures = {}
    for name, aspect in ASPECTS.items():
        inside, first, best, count = [], [], [], []
        for crop, label, (w, h) in zip(crops, examples.labels, sizes):
            target = fitted_to_aspect(Crop(*map(float, label)), aspect, w, h)
            ranked = aspect_alternatives(crop, aspect, w, h)
            inside.append(iou(largest_with_aspect(crop, aspect, w, h), target, w, h))
            first.append(iou(ranked[0][0], target, w, h))
            best.append(max(iou(alternative, target, w, h) for alternative, _ in ranked))
            count.append(len(ranked))
        figures[name] = {
            "largest_inside": float(np.mean(inside)),
            "first": float(np.mean(first)),
            "best_of_top3": float(np.mean(best)),
            "alternatives": float(np.mean(count)),
        }
    return figures


def aspect_table(results: dict[str, dict]) -> str:
    header = f"{'data':<10} {'aspect':<6} {'largest inside':>14} {'first':>6} {'best of 3':>9} {'alternatives':>12}"
    lines = [header, "-" * len(header)]
    for name, result in results.items():
        for aspect, figures in result.get("aspects", {}).items():
            lines.append(
                f"{name:<10} {aspect:<6} {figures['largest_inside']:>14.3f} {figures['first']:>6.3f} "
                f"{figures['best_of_top3']:>9.3f} {figures['alternatives']:>12.2f}"
            )
    return "\n".join(lines)


# Issue 29's targets for the confidence on test photos: where the per-photo IoU varies enough to tell (standard
# deviation at least VARIES), the least confident quarter at least GAP below the rest, each quartile's expected IoU
# within CALIBRATED of its measured IoU, AUROC for IoU ≥ 0.7 at least AUROC; everywhere the mean within CALIBRATED.
VARIES, GAP, CALIBRATED, AUROC = 0.1, 0.10, 0.05, 0.75


def confidence_checks(figures: dict) -> dict[str, tuple[float | None, bool]]:
    """Each target: (the figure, whether it is met)."""
    quartile_error = max(abs(part["expected_iou"] - part["iou"]) for part in figures["by_quartile"] if part["n"])
    mean_error = abs(figures["expected_iou"] - figures["iou"])
    checks = {"mean calibrated": (mean_error, mean_error <= CALIBRATED)}
    if figures["iou_std"] >= VARIES:
        gap, auroc = figures["lowest_quarter_gap"], figures["auroc_good"]
        checks["quartiles calibrated"] = (quartile_error, quartile_error <= CALIBRATED)
        checks["lowest quarter gap"] = (gap, gap >= GAP)
        checks["AUROC IoU≥0.7"] = (auroc, auroc is not None and auroc >= AUROC)
    return checks


def confidence_table(results: dict[str, dict]) -> str:
    header = (
        f"{'data':<10} {'IoU std':>7} {'expected':>8} {'IoU':>6} {'worst quartile error':>20} {'lowest gap':>10} "
        f"{'AUROC':>6}   targets"
    )
    lines = [header, "-" * len(header)]
    for name, result in results.items():
        figures = result.get("confidence")
        if figures is None:
            continue
        quartile_error = max(abs(p["expected_iou"] - p["iou"]) for p in figures["by_quartile"] if p["n"])
        auroc = figures["auroc_good"]
        checks = confidence_checks(figures)
        missed = [target for target, (_, met) in checks.items() if not met]
        verdict = "all met" if not missed else "missed: " + ", ".join(missed)
        if figures["iou_std"] < VARIES:
            verdict += f" (IoU std under {VARIES}: only the mean is a target)"
        lines.append(
            f"{name:<10} {figures['iou_std']:>7.3f} {figures['expected_iou']:>8.3f} {figures['iou']:>6.3f} "
            f"{quartile_error:>20.3f} {figures['lowest_quarter_gap']:>10.3f} "
            f"{(f'{auroc:.3f}' if auroc is not None else 'n/a'):>6}   {verdict}"
        )
    return "\n".join(lines)


# Issue 28's targets for the learning curve: never below the best baseline; at MARGIN_AT photos at least MARGIN above
# it; at the largest size, the general start no worse than scratch by more than one standard error.
MARGIN_AT, MARGIN = 50, 0.05


def best_baseline(result: dict) -> float:
    return max(result["methods"][b]["iou"] for b in BASELINES)


def curve_checks(points: dict[str, dict[str, dict]], start: str) -> dict[str, tuple[float, bool]]:
    """Issue 28's targets for one arm (`start`) of one dataset's curve: each (the figure, whether it is met)."""
    arm = points[start]
    below = min(result["methods"]["model"]["iou"] - best_baseline(result) for result in arm.values())
    checks = {"never below the best baseline": (below, below >= 0)}
    if str(MARGIN_AT) in arm:
        result = arm[str(MARGIN_AT)]
        margin = result["methods"]["model"]["iou"] - best_baseline(result)
        checks[f"{MARGIN:+.2f} at {MARGIN_AT}"] = (margin, margin >= MARGIN)
    largest = max((count for count in arm if count in points.get("scratch", {})), key=int, default=None)
    if start != "scratch" and largest is not None:
        ours, scratch = arm[largest], points["scratch"][largest]
        se = scratch["confidence"]["iou_std"] / scratch["n_test"] ** 0.5
        behind = scratch["methods"]["model"]["iou"] - ours["methods"]["model"]["iou"]
        checks[f"at {largest} within 1 SE of scratch"] = (behind, behind <= se)
    return checks


def auto_arm(points: dict[str, dict[str, dict]]) -> dict[str, dict]:
    """What `--start auto` gives at each size of a curve, from its two arms: the general start below GENERAL_BELOW
    photos, from there to CHOOSE_BELOW the arm better on its validation photos, then scratch."""
    from cropstyle.training.options import CHOOSE_BELOW, GENERAL_BELOW

    arm = {}
    for count in set(points["scratch"]) | set(points["general"]):
        if int(count) < GENERAL_BELOW:
            chosen = points["general"].get(count)
        elif int(count) >= CHOOSE_BELOW:
            chosen = points["scratch"].get(count)
        else:
            # In train's order: a tie keeps the general start.
            both = [points[start].get(count) for start in ("general", "scratch")]
            chosen = max(both, key=lambda r: r["val_iou"]) if all(r and "val_iou" in r for r in both) else None
        if chosen:
            arm[count] = chosen
    return arm


def curve_table(curve: dict[str, dict[str, dict[str, dict]]]) -> str:
    sizes = sorted({count for points in curve.values() for arm in points.values() for count in arm}, key=int)
    header = f"{'data':<10} {'start':<8} " + " ".join(f"{count:>15}" for count in sizes) + "   targets"
    lines = [header, "-" * len(header)]
    for name, points in curve.items():
        for start, arm in points.items():
            cells = []
            for count in sizes:
                result = arm.get(count)
                cells.append(
                    f"{result['methods']['model']['iou']:.3f} [{best_baseline(result):.3f}]" if result else "-"
                )
            missed = [target for target, (_, met) in curve_checks(points, start).items() if not met]
            verdict = "all met" if not missed else "missed: " + ", ".join(missed)
            lines.append(f"{name:<10} {start:<8} " + " ".join(f"{cell:>15}" for cell in cells) + f"   {verdict}")
    return "\n".join(lines)


def table(results: dict[str, dict]) -> str:
    header = f"{'data':<10} {'n':>9} {'method':<19} {'IoU':>6} {'BDE':>6} {'angle':>7}   {'train':>6}"
    lines = [header, "-" * len(header)]
    for name, result in results.items():
        methods = result["methods"]
        best = max(BASELINES, key=lambda b: methods[b]["iou"])
        seconds = f"{round(result['train_seconds'])} s" if result["train_seconds"] else "reused"
        for method in ("model", *BASELINES, REFERENCE):
            m = methods[method]
            lines.append(
                f"{name if method == 'model' else '':<10} "
                f"{(str(result['n_train']) + '/' + str(result['n_test'])) if method == 'model' else '':>9} "
                f"{method + ('*' if method == best else ''):<19} {m['iou']:>6.3f} {m['bde']:>6.3f} "
                f"{m['angle_mae']:>6.2f}°   "
                f"{seconds if method == 'model' else '':>6}"
            )
        lines.append(
            f"{'':<10} {'':>9} {'margin':<19} {methods['model']['iou'] - methods[best]['iou']:>+6.3f}   "
            f"(model − best baseline*; {REFERENCE} is a reference told the true crop size)"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=None, help="comma-separated: fcdb and zoo style names (default: all)")
    parser.add_argument(
        "--curve", default=None, help="comma-separated: the learning curve's datasets (default: --data's; none)"
    )
    parser.add_argument(
        "--curve-sizes", default=",".join(map(str, CURVE_SIZES)), help="comma-separated: the learning curve's sizes"
    )
    parser.add_argument(
        "--ensemble",
        type=int,
        default=None,
        help="train N models and predict their mean (default: train's, 3; 1 for a single model)",
    )
    parser.add_argument(
        "--curve-ensemble", type=int, default=None, help="--ensemble for the learning curve (default: --ensemble's)"
    )
    parser.add_argument(
        "--reuse-runs", action="store_true", help="evaluate the RUNs already in --work instead of training anew"
    )
    parser.add_argument("--work", type=Path, default=PROJECT / "data" / "quality")
    parser.add_argument("--out", type=Path, default=PROJECT / "data" / "bench-quality.json")
    args = parser.parse_args()
    names = args.data.split(",") if args.data else ["fcdb", *zoo_styles()]
    curve_names = names if args.curve is None else [n for n in args.curve.split(",") if n != "none"]
    curve_sizes = [int(count) for count in args.curve_sizes.split(",")]
    from cropstyle.training.options import DEFAULTS

    curve_ensemble = args.curve_ensemble or args.ensemble or DEFAULTS.ensemble
    figures: dict = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "ensemble": args.ensemble or "default",
        "curve_ensemble": args.curve_ensemble or args.ensemble or "default",
        "results": {},
        "curve": {},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)

    def save() -> None:  # after every run: an interrupted benchmark keeps what it measured
        args.out.write_text(json.dumps(figures, indent=2))

    for name in names:
        train_dataset, test_dataset = datasets_for(name, args.work)
        print(f"{name}: training with the defaults", file=sys.stderr, flush=True)
        figures["results"][name] = train_and_evaluate(
            train_dataset, test_dataset, args.work / name / "run", args.ensemble, args.reuse_runs
        )
        save()
        print(table({name: figures["results"][name]}), flush=True)
    for name in curve_names:
        train_dataset, test_dataset = datasets_for(name, args.work)
        points = figures["curve"].setdefault(name, {start: {} for start in STARTS})
        if name == "fcdb":  # the curve's general start on FCDB, trained as the general model is
            from cropstyle.training.general import GENERAL_ARCH

            print("fcdb: training as the general model is", file=sys.stderr, flush=True)
            figures["results"]["general"] = train_and_evaluate(
                train_dataset,
                test_dataset,
                Path(general_start(name, args.work)),
                args.ensemble,
                args.reuse_runs,
                arch=GENERAL_ARCH,
            )
            save()
        photos = len(pd.read_csv(train_dataset / "labels.csv", usecols=["image"]))
        for count in curve_sizes:
            for start in STARTS:
                table_run = figures["results"].get(name)
                if start == "scratch" and count >= photos and table_run and table_run["ensemble"] == curve_ensemble:
                    points[start][str(count)] = table_run  # all of them: the table's run
                    continue
                part = subset(train_dataset, count, args.work / name / f"subset-{count}")
                print(f"{name}: learning curve, {count} photos, {start}", file=sys.stderr, flush=True)
                points[start][str(count)] = train_and_evaluate(
                    part,
                    test_dataset,
                    args.work / name / f"run-{count}-{start}",
                    curve_ensemble,
                    args.reuse_runs,
                    start=general_start(name, args.work) if start == "general" else "scratch",
                )
                save()
        points["auto"] = auto_arm(points)
        save()
    print("\n" + table(figures["results"]))
    print("\nthe confidence on the test photos (training/confidence.py)\n" + confidence_table(figures["results"]))
    print(
        "\nranked alternatives per aspect: mean IoU with the photographer's crop fitted to that ratio\n"
        + aspect_table(figures["results"])
    )
    if figures["curve"]:
        print(
            "\nlearning curve: model IoU on the test photos by training photos (best baseline in brackets)\n"
            + curve_table(figures["curve"])
        )
    save()
    print(f"\nfigures in {args.out}")


if __name__ == "__main__":
    main()
