"""`cropstyle export RUN --out WEBMODEL [--quantize none|float16|uint8]`: the model for the browser.

Keras 3 → SavedModel (`model.export`) → TF.js graph model (the `tensorflowjs` converter, see
tfjs_shims.py) → WEBMODEL/model.json + weight shards + metadata.json (format: export/README.md).
The export then checks parity itself: the Keras model and the graph model, run in node with the page's own
TF.js and wasm files (web/vendor/, see web/vendor.py) as the page runs it, on the same inputs, must agree
within TOLERANCE; otherwise it fails (metadata.json records the figures either way).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from cropstyle.export.inference import CropModel, load_crop_model
from cropstyle.training.quiet_tensorflow import native_logging_quieted
from cropstyle.training.run import MONITOR, Run
from cropstyle.web import vendor

FORMAT = "cropstyle-webmodel"
FORMAT_VERSION = 2  # 2: preprocessing is the RUN's (training/pipeline.py PREPROCESSING)
QUANTIZATIONS = ("none", "float16", "uint8")
TOLERANCE = {"none": 1e-4, "float16": 1e-2, "uint8": 1e-2}  # max abs difference, Keras vs TF.js
PARITY_SCRIPT = Path(__file__).with_name("parity.mjs")
PARITY_RANDOM = 8  # seeded random inputs in the parity check, besides up to PARITY_PHOTOS real photos
PARITY_PHOTOS = 8


# Weight tensors with at least this many values are quantized by --quantize uint8: the convolution and dense
# kernels, ~97 % of the bytes; biases, batch-norm offsets, the 5-output head and small constants stay float32.
UINT8_MIN_VALUES = 2048
PROMOTION_STEPS = 8  # tensors promoted to uint16 one by one (choose_uint8_precision) before the rest at once
PARITY_MEASURE = (
    "max abs difference over the inputs of each output in its own unit: left, top, right, bottom "
    "as fractions of the frame, angle in degrees"
)


def _large_weights(model_json: Path) -> dict[str, int]:
    """{name: number of values} of the float32 weight tensors that uint8 may quantize."""
    graph = json.loads(model_json.read_text())
    sizes = {
        weight["name"]: int(np.prod(weight["shape"]))
        for group in graph["weightsManifest"]
        for weight in group["weights"]
        if weight["dtype"] == "float32"
    }
    return {name: size for name, size in sizes.items() if size >= UINT8_MIN_VALUES}


def write_graph_model(plain: Path, out: Path, dtype_map: dict | None) -> None:
    """The float32 graph model `plain` as `out`, its weights stored as `dtype_map` (the converter's
    quantization_dtype_map) says, by the converter's own weight writer, as the converter writes them."""
    from cropstyle.export.tfjs_shims import tfjs_weight_files

    read_weights, write_weights = tfjs_weight_files()
    graph = json.loads((plain / "model.json").read_text())
    groups = read_weights.read_weights(graph["weightsManifest"], str(plain))
    out.mkdir(parents=True, exist_ok=True)
    graph["weightsManifest"] = write_weights.write_weights(
        groups, str(out), write_manifest=False, quantization_dtype_map=dtype_map
    )
    (out / "model.json").write_text(json.dumps(graph))


@dataclass
class ParityCheck:
    """Keras's outputs on the parity inputs, and the max abs difference (PARITY_MEASURE) of graph models
    from them, run in node as the page runs them."""

    images: np.ndarray
    aspects: np.ndarray
    expected: np.ndarray
    scratch: Path

    def by_output(self, node: dict) -> np.ndarray:
        got = np.asarray(node["result"], dtype=np.float64)
        if got.shape != self.expected.shape:
            raise ParityError(f"TF.js returned shape {got.shape}, Keras {self.expected.shape}")
        return np.abs(got - self.expected.astype(np.float64)).max(axis=0)

    def differences(self, plain: Path, dtype_maps: list[dict]) -> list[float]:
        """The parity figure of `plain` stored as each of `dtype_maps` (one node process for all)."""
        variants = []
        for dtype_map in dtype_maps:
            variant = Path(tempfile.mkdtemp(prefix="variant-", dir=self.scratch))
            write_graph_model(plain, variant, dtype_map)
            variants.append(variant)
        results = run_tfjs(variants, self.images, self.aspects, self.scratch)
        for variant in variants:
            shutil.rmtree(variant)
        return [float(self.by_output(node).max()) for node in results]


@dataclass
class Precision:
    """How the weights are stored (a quantization_dtype_map), and the measurements that chose it."""

    dtype_map: dict | None
    trials: list[dict] = field(default_factory=list)  # {"uint16": [names], "max_abs_diff": figure} per try

    @property
    def uint16(self) -> list[str]:
        """The tensors uint8 could not keep within the target."""
        return list((self.dtype_map or {}).get("uint16", []))


def choose_uint8_precision(plain: Path, check: ParityCheck, target: float) -> Precision:
    """uint8 for the large weight tensors, except those that must be uint16 to keep parity within `target`.

    uint8 stores a tensor as 256 levels between its min and max. Its rounding errors add up through the
    layers (measured: no single tensor dominates, and they partly cancel), so a well-trained model can sum
    past the tolerance. So: measure plain uint8; while it misses the target, promote to uint16 (256× finer,
    one byte more per value) the tensor whose promotion lowers the measured parity most per byte, measuring
    every candidate afresh each step (one node process per step). After PROMOTION_STEPS steps the rest is
    promoted at once, which bounds the search. Every figure is measured in node, none estimated."""
    large = _large_weights(plain / "model.json")
    names = list(large)

    def dtype_map(uint16: list[str]) -> dict:
        return {"uint8": [name for name in names if name not in uint16], "uint16": list(uint16)}

    uint16: list[str] = []
    (diff,) = check.differences(plain, [dtype_map(uint16)])
    trials = [{"uint16": [], "max_abs_diff": diff}]
    while diff > target and len(uint16) < len(names):
        remaining = [name for name in names if name not in uint16]
        candidates = [remaining] if len(uint16) >= PROMOTION_STEPS else [[name] for name in remaining]
        diffs = check.differences(plain, [dtype_map(uint16 + candidate) for candidate in candidates])
        gain_per_byte = [
            (diff - after) / sum(large[name] for name in candidate) for candidate, after in zip(candidates, diffs)
        ]
        best = max(range(len(candidates)), key=gain_per_byte.__getitem__)
        uint16, diff = uint16 + candidates[best], diffs[best]
        trials.append({"uint16": uint16, "max_abs_diff": diff})
    return Precision(dtype_map(uint16), trials)


class ParityError(RuntimeError):
    """The TF.js model does not compute what the Keras model computes."""


@dataclass
class ExportReport:
    out: Path
    quantize: str
    files: dict[str, int]
    total_bytes: int
    max_abs_diff: float
    tolerance: float
    n_inputs: int
    by_output: dict[str, float] = field(default_factory=dict)  # max abs difference per output (angle in degrees)
    uint16: list[str] = field(default_factory=list)  # tensors uint8 could not keep within the target
    metadata: dict = field(repr=False, default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.max_abs_diff <= self.tolerance

    def report(self) -> str:
        sizes = ", ".join(f"{name} {size / 1e6:.3f} MB" for name, size in self.files.items())
        promoted = f", {len(self.uint16)} tensors kept in uint16 for parity" if self.uint16 else ""
        return (
            f"exported to {self.out} ({self.quantize}{promoted}): {self.total_bytes / 1e6:.3f} MB ({sizes})\n"
            f"parity with Keras on {self.n_inputs} inputs (TF.js, wasm backend, node): max abs difference "
            f"{self.max_abs_diff:.2e} (tolerance {self.tolerance:.0e}) {'ok' if self.passed else 'FAILED'}; "
            f"corners {max(list(self.by_output.values())[:4], default=0):.2e}, "
            f"angle {self.by_output.get('angle', 0):.2e}°"
        )


def export_webmodel(run: Path, out: Path, quantize: str = "none", target: float | None = None) -> ExportReport:
    """Export RUN's model to the TF.js graph model folder `out`, with metadata.json; checks parity.

    `target` (default half the tolerance, a margin for photos beyond the parity inputs) is the parity that
    uint8 must reach on the parity inputs before tensors are promoted to uint16 (choose_uint8_precision)."""
    if quantize not in QUANTIZATIONS:
        raise ValueError(f"--quantize must be one of {', '.join(QUANTIZATIONS)}, not {quantize!r}")
    run, out = Path(run), Path(out)
    target = TOLERANCE[quantize] / 2 if target is None else target
    model = load_crop_model(run)
    _check_node()
    out.mkdir(parents=True, exist_ok=True)
    for old in [out / "model.json", out / "metadata.json", *out.glob("group*-shard*of*.bin")]:
        old.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="cropstyle-export-") as scratch_name:
        scratch = Path(scratch_name)
        from cropstyle.export.tfjs_shims import tfjs_converters

        plain = scratch / "plain"  # float32; quantization is the converter's weight writer, applied below
        with native_logging_quieted():  # grappler's C++ logging
            model.keras_model.export(str(scratch / "saved_model"), format="tf_saved_model", verbose=False)
            tfjs_converters().convert_tf_saved_model(
                str(scratch / "saved_model"), str(plain), signature_def="serving_default", saved_model_tags="serve"
            )
        images, aspects = parity_inputs(model)
        check = ParityCheck(images, aspects, model.predict_arrays(images, aspects), scratch)
        if quantize == "uint8":
            precision = choose_uint8_precision(plain, check, target)
        else:
            precision = Precision({"float16": True} if quantize == "float16" else None)
        write_graph_model(plain, out, precision.dtype_map)
        (node,) = run_tfjs([out], images, aspects, scratch)
    by_output = check.by_output(node)
    diff = float(by_output.max())
    files = {
        path.name: path.stat().st_size
        for path in sorted(out.iterdir())
        if path.name == "model.json" or path.suffix == ".bin"
    }
    metadata = _metadata(model, out, quantize, node, files, diff, by_output, len(images), precision, target)
    (out / "metadata.json").write_text(json.dumps(metadata, indent=2) + "\n")
    report = ExportReport(
        out,
        quantize,
        files,
        sum(files.values()),
        diff,
        TOLERANCE[quantize],
        len(images),
        dict(zip(model.values, map(float, by_output))),
        precision.uint16,
        metadata,
    )
    if not report.passed:
        raise ParityError(
            f"the TF.js model differs from the Keras model by {diff:.3g} (tolerance "
            f"{TOLERANCE[quantize]:g}); {out} is not usable"
        )
    return report


def _check_node() -> None:
    if shutil.which("node") is None:
        raise RuntimeError(
            "node is not installed: the export checks the TF.js model in node (Debian: apt-get install nodejs)"
        )
    missing = vendor.missing_files()
    if missing:
        raise RuntimeError(
            f"the page's TF.js files are missing from {vendor.VENDOR} ({', '.join(missing[:3])}): run scripts/setup.sh"
        )


def parity_inputs(model: CropModel, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Inputs for the parity check: up to PARITY_PHOTOS validation photos of the RUN (when its datasets
    are still there), preprocessed as predict does, and PARITY_RANDOM seeded random images (smooth fields
    with noise, portrait to panorama aspects)."""
    rng = np.random.default_rng(seed)
    size = model.image_size
    images, aspects = [], []
    for path, aspect in _validation_photos(model.run, PARITY_PHOTOS):
        images.append(model.load_input(path, 1).image)
        aspects.append(aspect)
    for _ in range(PARITY_RANDOM):
        coarse = rng.uniform(0, 1, (4, 4, 3))
        smooth = np.kron(coarse, np.ones((-(-size // 4), -(-size // 4), 1)))[:size, :size]
        images.append(np.clip(smooth + rng.normal(0, 0.1, smooth.shape), 0, 1).astype(np.float32))
        aspects.append(float(np.exp(rng.uniform(np.log(0.5), np.log(2.4)))))
    return np.stack(images).astype(np.float32), np.array(aspects, np.float32)


def _validation_photos(run: Run, limit: int) -> list[tuple[Path, float]]:
    try:
        names = set(run.split["val"])
        found = []
        for dataset in run.datasets:
            frame = pd.read_csv(dataset / "labels.csv", usecols=["image", "width", "height"])
            for image, width, height in frame.itertuples(index=False):
                path = dataset / image
                if image in names and path.is_file():
                    found.append((path, float(width) / float(height)))
        return found[:limit]
    except (OSError, KeyError, ValueError):
        return []  # the datasets moved: random inputs only


def run_tfjs(webmodels: list[Path], images: np.ndarray, aspects: np.ndarray, scratch: Path | None = None) -> list[dict]:
    """Run each graph model in node (export/parity.mjs: the page's own TF.js and wasm files) on these inputs."""
    with tempfile.TemporaryDirectory(prefix="cropstyle-parity-", dir=scratch) as folder_name:
        folder = Path(folder_name)
        images.astype("<f4").tofile(folder / "image.f32")
        aspects.reshape(-1, 1).astype("<f4").tofile(folder / "aspect.f32")
        (folder / "inputs.json").write_text(
            json.dumps(
                {
                    "image": {"shape": list(images.shape), "file": "image.f32"},
                    "aspect": {"shape": [len(aspects), 1], "file": "aspect.f32"},
                }
            )
        )
        done = subprocess.run(
            [
                "node",
                str(PARITY_SCRIPT),
                str(vendor.VENDOR),
                str(folder / "inputs.json"),
                *(str(Path(webmodel).resolve()) for webmodel in webmodels),
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
    if done.returncode != 0:
        raise ParityError(f"running the TF.js model in node failed: {done.stderr.strip()[-2000:]}")
    results = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    if len(results) != len(webmodels):
        raise ParityError(f"node answered for {len(results)} of {len(webmodels)} models")
    return results


def _validation_metrics(run: Run) -> dict:
    """RUN/model.keras's exact validation figures (config.json) and each member's best epoch (its history.csv)."""
    split, validation = run.config.get("split", {}), run.config.get("validation", {})
    members = []
    for history in run.histories:
        if history is None or MONITOR not in history or not len(history):
            members.append(None)  # a member that never finished an epoch
            continue
        best = history.loc[history[MONITOR].idxmax()]
        members.append(
            {
                "epoch": int(best["epoch"]),
                **{name: float(best[name]) for name in history.columns if name.startswith("val_")},
            }
        )
    return {
        "source": "RUN/config.json (the model's exact figures) and RUN/members/K/history.csv (best epochs)",
        "n_train": split.get("train"),
        "n_val": split.get("val"),
        "val_crop_iou": validation.get("val_crop_iou"),
        # The same photos with test-time flip averaging, and which of the two RUN/model.keras is.
        "val_crop_iou_flip_averaged": validation.get("val_crop_iou_flip_averaged"),
        "model": validation.get("model_keras"),
        "members_val_crop_iou": validation.get("members_val_crop_iou"),
        "members_kept": validation.get("members_kept"),
        "members": members,
        "evaluate": run.evaluation,
    }  # the last `cropstyle evaluate` on held-out photos, or None


def _metadata(
    model: CropModel,
    out: Path,
    quantize: str,
    node: dict,
    files: dict[str, int],
    diff: float,
    by_output: np.ndarray,
    n_inputs: int,
    precision: Precision,
    target: float,
) -> dict:
    graph = json.loads((out / "model.json").read_text())
    signature = graph["signature"]
    config = model.run.config
    sha = model.run.model_sha256

    def tensor(spec: dict, name: str) -> dict:
        return {"name": name, "dtype": "float32", "shape": [int(d["size"]) for d in spec["tensorShape"]["dim"]]}

    inputs = {
        key: tensor(signature["inputs"][key], name)
        for key, name in zip(("image", "aspect"), _ordered_inputs(signature, node["inputs"]))
    }
    ((output_key, output_spec),) = signature["outputs"].items()
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model_version": sha[:16],
        "model_sha256": sha,
        "created": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "cropstyle_commit": config.get("versions", {}).get("cropstyle_commit", ""),
        "converter": graph.get("convertedBy", ""),
        "graph_model": "model.json",
        "arch": config.get("model", {}).get("arch"),
        "parameters": config.get("model", {}).get("parameters"),
        "quantization": quantize,
        "weights": _weight_storage(graph, precision, target),
        "inputs": inputs,
        "outputs": {"crop": tensor(output_spec, node["outputs"][0])},
        "preprocessing": model.run.preprocessing,  # the RUN's, verbatim: what the page reads and checks
        "output": {
            "values": list(model.values),
            "frame": "displayed",
            "convention": "lightroom-corners",
            "units": {
                "left": "fraction of displayed width",
                "top": "fraction of displayed height",
                "right": "fraction of displayed width",
                "bottom": "fraction of displayed height",
                "angle": "degrees, positive turns the crop box clockwise, within [-45, 45]",
                "confidence": "the expected IoU of the crop with the photographer's own, within [0, 1]",
            },
            "definition": "extractor/geometry.py (web/static/geometry.js mirrors it)",
        },
        "validation": _validation_metrics(model.run),
        # the calibration of the output "confidence" (training/confidence.py): unsure_below and its figures
        "confidence": _confidence(model),
        "parity": {
            "runtime": f"@tensorflow/tfjs {node.get('tfjs_version')}, {node.get('backend')} backend, node",
            "inputs": n_inputs,
            "max_abs_diff": diff,
            "tolerance": TOLERANCE[quantize],
            "passed": diff <= TOLERANCE[quantize],
            "max_abs_diff_by_output": dict(zip(model.values, map(float, by_output))),
            "measure": PARITY_MEASURE,
        },
        "files": files,
        "total_bytes": sum(files.values()),
    }


def _confidence(model: CropModel) -> dict | None:
    """What the page needs to read the confidence: the threshold under which it says "unsure", and how the
    calibration did on the validation photos (None: a RUN trained before the confidence)."""
    if model.unsure_below is None:
        return None
    calibration = model.run.calibration
    return {
        "unsure_below": calibration.unsure_below,
        "meaning": "expected IoU with the photographer's own crop, calibrated on the validation photos",
        "validation": calibration.validation,
    }


def _weight_storage(graph: dict, precision: Precision, target: float) -> dict:
    """How model.json stores its weights: tensors and values per stored dtype, and how uint8 was chosen."""
    stored: dict[str, dict[str, int]] = {}
    for weight in (weight for group in graph["weightsManifest"] for weight in group["weights"]):
        dtype = weight.get("quantization", {}).get("dtype", weight["dtype"])
        entry = stored.setdefault(dtype, {"tensors": 0, "values": 0})
        entry["tensors"] += 1
        entry["values"] += int(np.prod(weight["shape"]))
    storage: dict = {"by_dtype": stored}
    if precision.trials:
        storage["uint8_choice"] = {
            "target": target,
            "uint16": precision.uint16,
            "trials": precision.trials,
            "rule": choose_uint8_precision.__doc__.split("\n")[0],
        }
    return storage


def _ordered_inputs(signature: dict, node_inputs: list[str]) -> list[str]:
    """The TF.js input names for ("image", "aspect"): node's model.inputs names, matched to the signature."""
    names = {}
    for key, spec in signature["inputs"].items():
        graph_name = spec["name"].removesuffix(":0")
        names[key] = graph_name if graph_name in node_inputs else key
    return [names["image"], names["aspect"]]
