"""`cropstyle evaluate`: the trained model against the baselines on held-out photos.

Prints a table, and with --out writes REPORT/metrics.json
    {"n": N, "methods": {"model": {"iou": …, "bde": …, "angle_mae": …}, "full": {…}, "mean": {…}, "random": {…},
                         "saliency": {…}, "saliency_true_size": {…}},
     "confidence": {"expected_iou": …, "iou": …, "by_quartile": [...], "auroc_good": …, …}}
("confidence": the model's expected IoU against the IoU it got, training/confidence.py figures; absent for a RUN
trained before the confidence)
(training/baselines.py: the four baselines, and saliency_true_size, a reference told the true crop's size)
and REPORT/index.html, a contact sheet of the photos, worst model IoU first, with the photographer's crop
(green), the model's (red) and the best baseline's (blue). Metrics: training/metrics.py. The figures (with
the datasets evaluated on) are also kept in RUN/evaluation.json, which `cropstyle export` puts in metadata.json
(not for `general`: Run.record_evaluation).
"""

from __future__ import annotations

import html
import json
import sys
from pathlib import Path

import numpy as np

from cropstyle.extractor.geometry import Crop
from cropstyle.training import baselines, confidence, drawing, metrics, pipeline
from cropstyle.training.run import Run

SHEET_LIMIT = 200  # photos on the contact sheet


def model_outputs(run: Run, examples: pipeline.Examples, batch_size: int = 32) -> tuple[list[Crop], np.ndarray | None]:
    """The RUN's crops of the examples' photos, through the training pipeline's own input, and their confidence
    (None for a RUN trained before it)."""
    data = pipeline.make_dataset(examples, run.image_size, batch_size, training=False, cache=False)
    outputs = run.load_model().predict(data, verbose=0)
    crops = [Crop(*map(float, row[:5])) for row in outputs]
    return crops, (outputs[:, 5].astype(float) if outputs.shape[1] > 5 else None)


def _confidence_table(figures: dict, constant: bool) -> str:
    if constant:  # its quartiles would be ties split by the photos' order
        return (
            f"the model's confidence: {figures['expected_iou']:.3f} for every photo (their IoU {figures['iou']:.3f}); "
            + confidence.CONSTANT_WHY
        )
    lines = [
        "the model's confidence by quartile, least confident first",
        f"{'quartile':<9} {'photos':>6} {'expected IoU':>13} {'IoU':>7}",
    ]
    for q, part in enumerate(figures["by_quartile"]):
        if part["n"]:
            lines.append(f"{q + 1:<9} {part['n']:>6} {part['expected_iou']:>13.3f} {part['iou']:>7.3f}")
    auroc = figures["auroc_good"]
    lines.append(
        f"all       {figures['n']:>6} {figures['expected_iou']:>13.3f} {figures['iou']:>7.3f}   "
        f"least confident quarter {figures['lowest_quarter_gap']:.3f} below the rest; "
        f"AUROC for IoU ≥ {confidence.GOOD_IOU}: "
        + (f"{auroc:.3f}" if auroc is not None else "n/a (every photo on one side)")
    )
    return "\n".join(lines)


def _table(n: int, methods: dict[str, dict[str, float]]) -> str:
    lines = [f"{n} photos", f"{'method':<19} {'IoU':>7} {'BDE':>7} {'angle MAE':>10}"]
    for name, values in methods.items():
        lines.append(f"{name:<19} {values['iou']:>7.3f} {values['bde']:>7.3f} {values['angle_mae']:>9.2f}°")
    lines.append("(saliency_true_size is a reference, not a baseline: it is told the size of the photographer's crop)")
    return "\n".join(lines)


def evaluate(
    run: Path, datasets: list[Path], out: Path | None = None, *, include_seen: bool = False, verbose: bool = True
) -> dict:
    """Metrics of the model in RUN and of every baseline on `datasets`; see the module docstring.

    Photos RUN trained or validated on (the same image content: images are named by their hash) are left
    out unless `include_seen`: a model scored on its own training photos says nothing about new ones."""
    run = Run.open(run)
    examples = pipeline.read_examples([Path(d) for d in datasets])
    seen = np.array([run.seen(image) for image in examples.frame["image"]], dtype=bool)
    if seen.any() and not include_seen:
        if seen.all():
            raise ValueError(
                f"all {len(examples)} photos of {', '.join(map(str, datasets))} were used to train or "
                f"validate {run.path}: evaluate on held-out photos (or pass --include-seen)"
            )
        print(
            f"left out {int(seen.sum())} of {len(examples)} photos used to train or validate {run.path} "
            "(--include-seen keeps them)",
            file=sys.stderr,
        )
        examples = examples.subset(~seen)
    elif seen.any():
        print(
            f"warning: {int(seen.sum())} of {len(examples)} photos were used in training or validation", file=sys.stderr
        )
    stored = run.baselines
    frame = examples.frame
    sizes = list(zip(frame["width"].astype(float), frame["height"].astype(float)))
    truth = [Crop(*map(float, row)) for row in examples.labels]
    mean_crop = Crop(*map(float, stored["mean"]))
    model_crops, expected = model_outputs(run, examples)
    crops = {
        "model": model_crops,
        "full": baselines.full(len(examples)),
        "mean": baselines.mean(len(examples), stored["mean"]),
        "random": baselines.random(sizes, stored["train_crops"]),
        "saliency": [baselines.saliency(path, mean_crop, w, h) for path, (w, h) in zip(examples.paths, sizes)],
        "saliency_true_size": [
            baselines.saliency(path, true, w, h) for path, true, (w, h) in zip(examples.paths, truth, sizes)
        ],
    }
    per_photo = {
        name: [metrics.crop_metrics(p, t, w, h) for p, t, (w, h) in zip(predicted, truth, sizes)]
        for name, predicted in crops.items()
    }
    result = {
        "n": len(examples),
        "seen": {"included": bool(include_seen and seen.any()), "left_out": 0 if include_seen else int(seen.sum())},
        "methods": {name: metrics.summarise(values) for name, values in per_photo.items()},
    }
    if expected is not None:
        result["confidence"] = confidence.figures(expected, [m["iou"] for m in per_photo["model"]])
    if verbose:
        print(_table(result["n"], result["methods"]))
        if expected is not None and len(expected) >= 4:
            print(_confidence_table(result["confidence"], constant=run.calibration.constant))
    run.record_evaluation({**result, "datasets": [str(Path(d).resolve()) for d in datasets]})
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "metrics.json").write_text(json.dumps(result, indent=2))
        _contact_sheet(out, examples, truth, crops, per_photo, result)
    return result


def _contact_sheet(
    out: Path,
    examples: pipeline.Examples,
    truth: list[Crop],
    crops: dict[str, list[Crop]],
    per_photo: dict[str, list[dict]],
    result: dict,
) -> None:
    best = max(baselines.BASELINES, key=lambda name: result["methods"][name]["iou"])
    (out / "sheet").mkdir(exist_ok=True)
    order = np.argsort([m["iou"] for m in per_photo["model"]], kind="stable")[:SHEET_LIMIT]
    cells = []
    for rank, i in enumerate(order):
        image = drawing.draw_crops(
            examples.paths[i],
            [
                (truth[i], drawing.TRUE_COLOUR),
                (crops[best][i], drawing.BASELINE_COLOUR),
                (crops["model"][i], drawing.MODEL_COLOUR),
            ],
        )
        name = f"sheet/{rank:04d}.jpg"
        image.save(out / name, quality=85)
        model_iou, best_iou = per_photo["model"][i]["iou"], per_photo[best][i]["iou"]
        cells.append(
            f'<figure><img src="{name}" alt="">'
            f"<figcaption>{html.escape(Path(examples.frame['source'][i]).name)}"
            f"<br>model IoU {model_iou:.2f} · {best} {best_iou:.2f}</figcaption></figure>"
        )
    rows = "".join(
        f"<tr><td>{name}</td><td>{v['iou']:.3f}</td><td>{v['bde']:.3f}</td><td>{v['angle_mae']:.2f}°</td></tr>"
        for name, v in result["methods"].items()
    )
    (out / "index.html").write_text(f"""<!doctype html>
<html><head><meta charset="utf-8"><title>cropstyle evaluation</title>
<style>body{{font-family:sans-serif}} figure{{display:inline-block;margin:6px;font-size:12px}}
img{{max-width:256px;max-height:256px}} td,th{{padding:2px 10px;text-align:right}}</style></head><body>
<h1>cropstyle evaluation: {result["n"]} photos</h1>
<table><tr><th>method</th><th>IoU</th><th>BDE</th><th>angle MAE</th></tr>{rows}</table>
<p>Worst model IoU first{" (the first " + str(SHEET_LIMIT) + ")" if result["n"] > SHEET_LIMIT else ""}.
<span style="color:rgb{drawing.TRUE_COLOUR}">■ photographer</span>
<span style="color:rgb{drawing.MODEL_COLOUR}">■ model</span>
<span style="color:rgb{drawing.BASELINE_COLOUR}">■ {best} (best baseline)</span>; \
the dot marks each crop's own top-left corner.</p>
{"".join(cells)}
</body></html>
""")
