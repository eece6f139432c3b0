"""`cropstyle predict RUN PHOTO_OR_DIR... [--aspect W:H[,W:H...]] [--top N] [--format table|csv|json]
[--write-cropped DIR]`.

The library reader `extract` uses (extractor/reading.py) reads the metadata with one exiftool process and
decodes the photos in a thread pool while the model predicts the photos decoded before, batch by batch. Crops
come out in the dataset's label convention (labels.csv: Lightroom corners in the displayed frame, degrees), so
they compare directly with `labels.csv`.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import math
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from cropstyle.export.inference import CropModel, ModelInput, load_crop_model
from cropstyle.extractor import skip_reasons
from cropstyle.extractor.geometry import (
    LABEL_VALUES,
    Crop,
    RotatedRect,
    aspect_alternatives,
    crop_to_rect,
    rect_corners,
)
from cropstyle.extractor.library import LibraryFile, find_library_files
from cropstyle.extractor.metadata import MetadataTool, metadata_tool
from cropstyle.extractor.photos import LibraryPhoto, Skipped
from cropstyle.extractor.pixels import PixelError, open_displayed
from cropstyle.extractor.reading import read_library

MIN_BATCH = 8  # the model runs on at least this many photos unless the run ends
CROPPED_QUALITY = 95
_ORIENTATION_TAG = 0x0112
BACKUP_SUFFIX = "_original"  # exiftool's backup of a file it wrote in place (`apply --in-place`)
# labels.csv's names and order, then the confidence: the expected IoU, and whether it is below the RUN's threshold
_COLUMNS = ["source", "width", "height", *LABEL_VALUES, "orientation", "confidence", "unsure"]


MAX_TOP = 3  # alternatives per aspect ratio (geometry.aspect_alternatives makes up to three)


@dataclass(frozen=True)
class Alternative:
    """One crop of a requested aspect ratio, ranked (1 = best) by the model's estimate of how well it matches the
    photographer: its confidence times the crop's overlap with the first (geometry.aspect_alternatives)."""

    aspect: str  # as asked, "4:5"
    rank: int
    crop: Crop
    expected_iou: float | None  # None: a RUN without a confidence


@dataclass
class Prediction:
    """One photo's predicted crop in the displayed frame (labels.csv's convention), or why there is none."""

    source: Path
    crop: Crop | None = None  # the crop to use: the model's, or with --aspect the first alternative of the first
    model_crop: Crop | None = None  # the model's own output
    confidence: float | None = None  # the model's expected IoU with the photographer's crop (None: RUN without one)
    unsure: bool = False  # the confidence is below the RUN's calibrated threshold
    alternatives: list[Alternative] = field(default_factory=list)  # with --aspect: per aspect, best first
    width: int = 0  # displayed size (labels.csv's width, height)
    height: int = 0
    orientation: int = 1
    skipped: str | None = None  # why no crop was predicted
    cropped: Path | None = None  # --write-cropped: the file written
    cropped_error: str | None = None  # --write-cropped: why it could not be written
    photo: LibraryPhoto | None = field(default=None, repr=False)  # what the extractor reads for it (used by apply)

    def row(self, alternative: Alternative | None = None) -> dict:
        """labels.csv's columns and the confidence; with an alternative, its crop and its aspect, rank and expected
        IoU."""
        crop = alternative.crop if alternative is not None else self.crop
        row = {"source": str(self.source), "width": self.width or "", "height": self.height or ""}
        for name in LABEL_VALUES:
            row[name] = getattr(crop, name) if crop is not None else ""
        row["orientation"] = self.orientation if self.crop is not None else ""
        row["confidence"] = self.confidence if self.confidence is not None else ""
        row["unsure"] = self.unsure if self.confidence is not None else ""
        if alternative is not None:
            row["aspect"], row["rank"] = alternative.aspect, alternative.rank
            row["expected_iou"] = alternative.expected_iou if alternative.expected_iou is not None else ""
        return row


def find_photos(paths: list[Path]) -> tuple[list[LibraryFile], list[Skipped]]:
    """Photo files (and raws with their sidecars) under `paths`, found as `extract` finds them; the rest
    (catalogs, orphan sidecars, exiftool's backups) with a reason."""
    for path in paths:
        if not Path(path).exists():
            raise FileNotFoundError(f"{path}: no such file or folder")
    photos, skipped = [], []
    for file in find_library_files([Path(p) for p in paths]):
        if file.kind == "catalog":
            skipped.append(Skipped(file.path, "catalog: name the photos or their folders instead"))
        elif file.kind == "orphan-sidecar":
            skipped.append(Skipped(file.path, skip_reasons.ORPHAN_SIDECAR))
        elif file.path.name.endswith(BACKUP_SUFFIX):
            skipped.append(Skipped(file.path, "exiftool backup of a photo written in place"))
        else:
            photos.append(file)
    return photos, skipped


def parse_aspect(text: str) -> tuple[float, float]:
    """'4:5', '16:9', '1.91:1' → (width, height); both positive. (--aspect takes a comma-separated list of them.)"""
    width, sep, height = text.partition(":")
    try:
        value = (float(width), float(height))
    except ValueError:
        value = None
    if not sep or value is None or not all(v > 0 and math.isfinite(v) for v in value):
        raise ValueError(f"aspect ratio must be W:H with positive numbers (e.g. 4:5, 16:9), not {text!r}")
    return value


def predict(
    run: Path,
    paths: Sequence[Path],
    aspects: Sequence[tuple[float, float]] = (),
    write_cropped: Path | None = None,
    batch_size: int = 32,
    jobs: int | None = None,
    model: CropModel | None = None,
    top: int = 1,
) -> list[Prediction]:
    """Predict the crop of every photo under `paths` (files and folders, recursively; raws through their
    embedded preview, orientation applied). For each of `aspects` (W, H), up to `top` alternatives of that ratio,
    best first (geometry.aspect_alternatives: the first keeps the prediction's centre, angle and area); the crop
    used is the first aspect's first. With `write_cropped`, writes each photo cropped and
    straightened at full resolution into that folder. Returns one Prediction per photo found, in order."""
    model = model or load_crop_model(run)
    with metadata_tool() as tool, ThreadPoolExecutor(jobs or os.cpu_count() or 1) as pool:
        return predict_with(model, tool, pool, paths, aspects, write_cropped, batch_size, top)


def predict_with(
    model: CropModel,
    tool: MetadataTool,
    pool: ThreadPoolExecutor,
    paths: Sequence[Path],
    aspects: Sequence[tuple[float, float]] = (),
    write_cropped: Path | None = None,
    batch_size: int = 32,
    top: int = 1,
) -> list[Prediction]:
    """`predict` with the caller's model, exiftool process and decoding threads (`apply` shares them)."""
    if not 1 <= top <= MAX_TOP:
        raise ValueError(f"--top must be 1 to {MAX_TOP}, not {top}")
    if write_cropped is not None:
        Path(write_cropped).mkdir(parents=True, exist_ok=True)
    files, skipped = find_photos(list(paths))
    predictions: list[Prediction] = [Prediction(s.path, skipped=s.reason) for s in skipped]
    namer = _CroppedNames(Path(write_cropped), [f.path for f in files]) if write_cropped is not None else None
    writes: list[tuple[Prediction, Future]] = []
    for prediction, source in _predict_files(model, tool, files, pool, batch_size):
        if prediction.crop is not None and aspects:
            prediction.alternatives = alternatives(prediction, aspects, top)
            prediction.crop = prediction.alternatives[0].crop
        if prediction.crop is not None and namer is not None:
            target = namer.name_for(prediction.source)
            writes.append(
                (prediction, pool.submit(write_cropped_photo, source, prediction.orientation, prediction.crop, target))
            )
        predictions.append(prediction)
    for prediction, future in writes:
        try:
            prediction.cropped = future.result()
        except (PixelError, OSError, ValueError) as error:
            prediction.cropped_error = str(error)
    order = {path: index for index, path in enumerate(f.path for f in files)}
    predictions.sort(key=lambda p: order.get(p.source, len(order)))
    return predictions


def alternatives(prediction: Prediction, aspects: Sequence[tuple[float, float]], top: int) -> list[Alternative]:
    """Up to `top` alternatives per aspect ratio of a predicted photo, each with its expected IoU."""
    found = []
    for w, h in aspects:
        ranked = aspect_alternatives(prediction.model_crop, w / h, prediction.width, prediction.height)[:top]
        for rank, (crop, overlap) in enumerate(ranked, start=1):
            expected = None if prediction.confidence is None else round(prediction.confidence * overlap, 4)
            found.append(Alternative(f"{w:g}:{h:g}", rank, crop, expected))
    return found


def _predict_files(
    model: CropModel, tool: MetadataTool, files: list[LibraryFile], pool: ThreadPoolExecutor, batch_size: int
) -> Iterator[tuple[Prediction, Path | bytes | None]]:
    """(prediction, pixel source) per file. The library reader decodes the photos into model inputs on `pool`;
    this thread runs the model on batches of them as they come: a full batch, or MIN_BATCH photos while the next
    one is still being read or decoded, so that the model works meanwhile."""

    def decoder_for(file: LibraryFile, photo: LibraryPhoto) -> Callable[[Path | bytes], ModelInput]:
        return functools.partial(model.load_input, orientation=photo.orientation)

    batch: list[tuple[Prediction, Path | bytes, ModelInput]] = []
    with closing(read_library(files, tool, decoder_for, pool)) as reads:
        for read in reads:
            if read.skipped is not None:
                yield Prediction(read.item.path, skipped=read.skipped), None
                continue
            batch.append(
                (
                    Prediction(read.item.path, orientation=read.photo.orientation, photo=read.photo),
                    read.source,
                    read.decoded,
                )
            )
            if len(batch) >= batch_size or (len(batch) >= MIN_BATCH and not read.next_ready):
                yield from _predict_batch(model, batch)
                batch = []
    yield from _predict_batch(model, batch)


def _predict_batch(model: CropModel, batch: list) -> Iterator[tuple[Prediction, Path | bytes | None]]:
    if not batch:
        return
    sizes = [prediction.photo.displayed_size(model_input.decoded_size) for prediction, _, model_input in batch]
    outputs = model.predict_arrays(
        np.stack([model_input.image for _, _, model_input in batch]), np.array([w / h for w, h in sizes], np.float32)
    )
    unsure_below = model.unsure_below
    for (prediction, source, _), (width, height), values in zip(batch, sizes, outputs):
        prediction.width, prediction.height = int(width), int(height)
        prediction.model_crop = prediction.crop = Crop(*(float(v) for v in values[:5]))
        if unsure_below is not None:
            prediction.confidence = round(float(values[5]), 4)
            prediction.unsure = bool(values[5] < unsure_below)
        yield prediction, source


class _CroppedNames:
    """`DIR/<name>.jpg` per photo, unique within the run and never one of the input photos."""

    def __init__(self, folder: Path, inputs: list[Path]):
        self.folder = folder
        self.taken = {str(path.resolve()).lower() for path in inputs}

    def name_for(self, source: Path) -> Path:
        for number in range(1, 1_000_000):
            name = f"{source.stem}.jpg" if number == 1 else f"{source.stem}-{number}.jpg"
            target = self.folder / name
            key = str(target.resolve()).lower()
            if key not in self.taken:
                self.taken.add(key)
                return target
        raise RuntimeError(f"no free name for {source.stem} in {self.folder}")


def write_cropped_photo(source: Path | bytes, orientation: int, crop: Crop, target: Path) -> Path:
    """The photo at full resolution as displayed, cut to `crop` (displayed frame) and straightened: the
    crop's rotated rectangle becomes the whole output, turned by −angle. JPEG quality 95 (4:4:4), with the
    source's EXIF and colour profile, Orientation set to 1 (the pixels are already upright)."""
    image, _ = open_displayed(source, orientation)
    rect = crop_to_rect(crop, image.width, image.height)
    width, height = max(1, round(rect.width)), max(1, round(rect.height))
    if abs(crop.angle) < 1e-9:
        left, top = round(rect.cx - width / 2), round(rect.cy - height / 2)
        out = image.crop((left, top, left + width, top + height))
    else:
        # Output pixel (x, y) samples the photo at TL + x·u + y·v: u, v the crop's top and left edge directions.
        tl, tr, _, bl = rect_corners(RotatedRect(rect.cx, rect.cy, width, height, crop.angle))
        u, v = (tr - tl) / width, (bl - tl) / height
        out = image.transform(
            (width, height),
            Image.Transform.AFFINE,
            (u[0], v[0], tl[0], u[1], v[1], tl[1]),
            resample=Image.Resampling.BICUBIC,
        )
    exif, icc = _exif_and_profile(source)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    save = {"quality": CROPPED_QUALITY, "subsampling": 0, "optimize": True}
    if exif is not None:
        save["exif"] = exif
    if icc:
        save["icc_profile"] = icc
    out.save(temporary, "JPEG", **save)
    os.replace(temporary, target)
    return target


def _exif_and_profile(source: Path | bytes) -> tuple[bytes | None, bytes | None]:
    try:
        with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as image:
            icc = image.info.get("icc_profile")
            exif = image.getexif()  # read while the file is open: TIFF loads it lazily
            if not exif:
                return None, icc
            exif[_ORIENTATION_TAG] = 1
            return exif.tobytes(), icc
    except (OSError, ValueError, SyntaxError):
        return None, None


def format_predictions(predictions: list[Prediction], fmt: str = "table") -> str:
    """`table` for people, `csv` with labels.csv's column names, `json` (a list of objects, same keys). With --aspect
    alternatives, a row for each (aspect, rank, expected_iou)."""
    ranked = any(p.alternatives for p in predictions)
    extra = (["aspect", "rank", "expected_iou"] if ranked else []) + [
        name
        for name, used in (
            ("cropped", any(p.cropped or p.cropped_error for p in predictions)),
            ("skipped", any(p.skipped for p in predictions)),
        )
        if used
    ]
    rows, shown = [], []  # with --aspect: a row per alternative
    for prediction in predictions:
        for alternative in prediction.alternatives or [None]:
            row = prediction.row(alternative)
            if "cropped" in extra:
                row["cropped"] = str(prediction.cropped or "") or (
                    f"error: {prediction.cropped_error}" if prediction.cropped_error else ""
                )
            if "skipped" in extra:
                row["skipped"] = prediction.skipped or ""
            rows.append(row)
            shown.append(prediction)
    if fmt == "json":
        return json.dumps([{k: (None if v == "" else v) for k, v in row.items()} for row in rows], indent=2)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=_COLUMNS + extra, lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: (repr(v) if isinstance(v, float) else v) for k, v in row.items()} for row in rows)
        return buffer.getvalue().rstrip("\n")
    if fmt != "table":
        raise ValueError(f"unknown format {fmt!r}: choose table, csv or json")
    header = ["photo", "size", *LABEL_VALUES, "confidence"] + extra
    lines = [header]
    for prediction, row in zip(shown, rows):
        values = [_short(prediction.source), f"{row['width']}×{row['height']}" if prediction.crop else ""]
        values += [f"{row[n]:.4f}" if prediction.crop else "" for n in LABEL_VALUES[:4]]
        values.append(f"{row['angle']:+.2f}°" if prediction.crop else "")
        values.append(_confidence_cell(prediction))
        values += [str(row[name]) for name in extra]
        lines.append(values)
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = [
        "  ".join(
            v.ljust(w) if i in (0, 1) or i >= 7 else v.rjust(w) for i, (v, w) in enumerate(zip(line, widths))
        ).rstrip()
        for line in lines
    ]
    done = sum(p.crop is not None for p in predictions)
    text.append(
        f"{done} of {len(predictions)} photos predicted"
        + (f", {len(predictions) - done} skipped" if done < len(predictions) else "")
    )
    return "\n".join(text)


def _confidence_cell(prediction: Prediction) -> str:
    if prediction.crop is None:
        return ""
    if prediction.confidence is None:
        return "n/a"  # a RUN trained before the confidence
    return f"{prediction.confidence:.2f}" + (" unsure" if prediction.unsure else "")


def _short(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
