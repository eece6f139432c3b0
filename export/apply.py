"""`cropstyle apply RUN PHOTO_OR_DIR... [--dry-run] [--force] [--in-place]`: predicted crops → Lightroom.

The crop is written as Lightroom writes it: `crs:HasCrop` True and `crs:CropLeft/Top/Right/Bottom/Angle`
in the STORED frame (geometry.to_stored of the prediction: the exact inverse of what `extract` does), with
6 decimals as Lightroom does. Where:

* raws: the sidecar the raw already has (`NAME.xmp` or `NAME.EXT.xmp`), else a new `NAME.xmp`;
* other photos (JPEG, TIFF, DNG, PNG, ...): with --in-place into the file itself (exiftool keeps the
  untouched original as `FILE_original`); otherwise the sidecar `NAME.EXT.xmp` (existing or new), which
  the extractor reads when the file's own XMP has no crop. A photo whose crop is embedded in the file can
  only be replaced --in-place.

exiftool edits existing XMP, so everything else in a sidecar or a file is kept; only the crop tags change.
A photo that already has a crop is left alone unless --force. One exiftool process reads and writes
everything. --dry-run writes nothing and says what would change.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from cropstyle.export.inference import CropModel, load_crop_model
from cropstyle.export.predict import Prediction, predict_with
from cropstyle.extractor import crs, skip_reasons
from cropstyle.extractor.geometry import IDENTITY, Crop, to_stored
from cropstyle.extractor.metadata import metadata_tool
from cropstyle.extractor.photos import LibraryPhoto

HAS_CROP = "has a crop (--force replaces it)"
EMBEDDED_CROP = "its crop is embedded in the file: a sidecar would be ignored (--in-place --force replaces it)"
EXPORT_SKIP = "export, its pixels are already cropped"
ORIENTATION_CONFLICT = "its sidecar's orientation differs from the file's: apply without --in-place"
LEFT_UNCROPPED = "the model leaves it uncropped"


@dataclass
class ApplyAction:
    """What apply did, or would do, for one photo."""

    source: Path
    status: str  # "written" | "would write" | "skipped" | "failed"
    reason: str | None = None  # why skipped or failed
    target: Path | None = None  # the sidecar or the photo the crop goes into
    created: bool = False  # the target is a new sidecar
    displayed: Crop | None = None  # the prediction (displayed frame, labels.csv's convention)
    stored: Crop | None = None  # what is written (stored frame, rounded as written)
    replaced: Crop | None = None  # the crop it replaces (stored frame), with --force

    def line(self) -> str:
        if self.stored is None:
            return f"{self.source}: {self.status}, {self.reason}"
        values = " ".join(
            f"{name.removeprefix('Crop')}={crs.text(value)}" for name, value in zip(crs.CROP_TAGS, self.stored.values())
        )
        where = "new sidecar " if self.created else ""
        replaced = f" (replaces {' '.join(map(crs.text, self.replaced.values()))})" if self.replaced else ""
        text = f"{self.source}: {self.status} {values} into {where}{self.target}{replaced}"
        return text + (f": {self.reason}" if self.reason else "")


@dataclass
class ApplySummary:
    actions: list[ApplyAction] = field(default_factory=list)
    dry_run: bool = False

    @property
    def counts(self) -> Counter:
        return Counter(action.status for action in self.actions)

    def report(self, verbose: bool | None = None) -> str:
        """Per photo lines (always with --dry-run; else only failures), then the summary."""
        verbose = self.dry_run if verbose is None else verbose
        lines = [action.line() for action in self.actions if verbose or action.status == "failed"]
        done = [a for a in self.actions if a.status in ("written", "would write")]
        verb = "would write" if self.dry_run else "wrote"
        lines.append(
            f"{verb} {len(done)} crops: {sum(a.created for a in done)} into new sidecars, "
            f"{sum(a.target == a.source for a in done)} into the photos (--in-place), "
            f"{sum(not a.created and a.target != a.source for a in done)} into existing sidecars"
            + (
                f", {sum(a.replaced is not None for a in done)} replacing a crop"
                if any(a.replaced for a in done)
                else ""
            )
        )
        skipped = Counter(
            a.reason.split(":")[0] if a.reason.startswith(skip_reasons.NOT_AN_IMAGE) else a.reason
            for a in self.actions
            if a.status == "skipped"
        )
        if skipped:
            lines.append(f"skipped {sum(skipped.values())}:")
            lines += [f"  {reason}: {count}" for reason, count in skipped.most_common()]
        if self.counts["failed"]:
            lines.append(f"FAILED {self.counts['failed']} (see above)")
        if self.dry_run:
            lines.append("dry run: nothing was written")
        return "\n".join(lines)


def apply(
    run: Path,
    paths: Sequence[Path],
    dry_run: bool = False,
    force: bool = False,
    in_place: bool = False,
    batch_size: int = 32,
    jobs: int | None = None,
    model: CropModel | None = None,
) -> ApplySummary:
    """Predict every photo under `paths` and write its crop for Lightroom (see the module docstring)."""
    model = model or load_crop_model(run)
    summary = ApplySummary(dry_run=dry_run)
    with metadata_tool() as tool, ThreadPoolExecutor(jobs or os.cpu_count() or 1) as pool:
        predictions = predict_with(model, tool, pool, paths, batch_size=batch_size)
        claimed: set[str] = set()
        for prediction in predictions:
            action = plan(prediction, force=force, in_place=in_place)
            if action.target is not None:
                key = str(action.target).lower()
                if key in claimed:  # two raws of one name (IMG_1.CR2, IMG_1.NEF) would share IMG_1.xmp
                    action = ApplyAction(
                        prediction.source, "skipped", f"{action.target.name} is written for another photo"
                    )
                claimed.add(key)
            if action.status == "written":
                if dry_run:
                    action.status = "would write"
                else:
                    _write(tool, action)
            summary.actions.append(action)
    return summary


def plan(prediction: Prediction, force: bool = False, in_place: bool = False) -> ApplyAction:
    """Where the crop of this prediction goes and what is written, or why nothing is (status "written")."""
    photo: LibraryPhoto | None = prediction.photo
    if prediction.crop is None or photo is None:
        return ApplyAction(prediction.source, "skipped", prediction.skipped or "no prediction")
    if prediction.crop == IDENTITY:  # the model decided to leave it alone: a full-frame crop would be noise
        return ApplyAction(prediction.source, "skipped", LEFT_UNCROPPED)
    if photo.export:
        return ApplyAction(prediction.source, "skipped", f"{EXPORT_SKIP} ({photo.export})")
    if photo.perspective:
        return ApplyAction(prediction.source, "skipped", skip_reasons.PERSPECTIVE)
    orientation = photo.orientation
    if photo.kind == "raw":
        target, existing = photo.sidecar or photo.path.with_suffix(".xmp"), photo.sidecar_crop
    elif in_place:
        target, existing = photo.path, photo.crop
        if photo.xmp_origin == "xmp-sidecar" and photo.file_orientation != photo.orientation:
            return ApplyAction(prediction.source, "skipped", ORIENTATION_CONFLICT)
    else:
        if photo.file_crop is not None:
            return ApplyAction(prediction.source, "skipped", EMBEDDED_CROP if force else HAS_CROP)
        target, existing = photo.sidecar or photo.path.with_name(photo.path.name + ".xmp"), photo.sidecar_crop
    if target == photo.sidecar and photo.sidecar_problem:
        return ApplyAction(
            prediction.source, "skipped", f"{skip_reasons.UNREADABLE}: sidecar {target.name}: {photo.sidecar_problem}"
        )
    if existing is not None and not force:
        return ApplyAction(prediction.source, "skipped", HAS_CROP)
    stored = to_stored(prediction.crop, prediction.width, prediction.height, orientation)
    return ApplyAction(
        prediction.source,
        "written",
        target=target,
        created=not target.exists(),
        displayed=prediction.crop,
        stored=written_values(stored),
        replaced=existing,
    )


def written_values(crop: Crop) -> Crop:
    """The crop as it is written: corners clamped to the frame (float noise only: predictions lie inside)
    and every value rounded to Lightroom's 6 decimals."""
    left, top, right, bottom = (min(1.0, max(0.0, v)) for v in crop.values()[:4])
    return crs.written(Crop(left, top, right, bottom, crop.angle))


def _write(tool, action: ApplyAction) -> None:
    # Sidecars are rewritten in place (only their crop tags change); a photo written --in-place keeps
    # exiftool's backup FILE_original (an existing backup, the true original, is never replaced).
    backup = [] if action.target == action.source else ["-overwrite_original"]
    # exiftool would put its own name in x:xmptk; copying the tag onto itself keeps the writer's (Lightroom's).
    keep_toolkit = ["-tagsFromFile", "@", "-XMP-x:XMPToolkit"] if action.target.exists() else []
    try:
        output = tool.execute(*backup, *keep_toolkit, *crs.exiftool_assignments(action.stored), str(action.target))
        status, stderr = tool.last_status, (tool.last_stderr or "").strip()
    except Exception as error:  # exiftool died: report this photo, carry on is impossible
        raise RuntimeError(f"exiftool failed writing {action.target}: {error}") from error
    if (
        status != 0
        or not any(word in output for word in ("updated", "created", "unchanged"))
        or not action.target.exists()
    ):
        action.status, action.reason = "failed", f"exiftool: {stderr or output.strip() or f'exit status {status}'}"
