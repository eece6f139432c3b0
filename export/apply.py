"""`cropstyle apply RUN PHOTO_OR_DIR... [--catalog X.lrcat] [--new-sidecars] [--dry-run] [--force] [--in-place]`:
predicted crops → Lightroom.

The crop is written as Lightroom writes it: `crs:HasCrop` True and `crs:CropLeft/Top/Right/Bottom/Angle`
in the STORED frame (geometry.to_stored of the prediction: the exact inverse of what `extract` does), with
6 decimals as Lightroom does. Where:

* raws: the sidecar the raw already has (`NAME.xmp` or `NAME.EXT.xmp`), else a new `NAME.xmp` (with --catalog or
  --new-sidecars, below);
* other photos (JPEG, TIFF, DNG, PNG, ...): with --in-place into the file itself (exiftool keeps the
  untouched original as `FILE_original`); otherwise the sidecar `NAME.EXT.xmp` (existing or new), which
  the extractor reads when the file's own XMP has no crop. A photo whose crop is embedded in the file can
  only be replaced --in-place.

exiftool edits existing XMP, so everything else in a sidecar or a file is kept; only the crop tags change.
A photo that already has a crop is left alone unless --force. One exiftool process reads and writes
everything. --dry-run writes nothing and says what would change.

Lightroom's "Read Metadata from Files" replaces a photo's develop settings with those of the XMP it reads (a raw's
NAME.xmp, a JPEG's or TIFF's or DNG's own XMP), so what goes there must not cost an edit (`plan_lightroom`,
export/lightroom_sidecar.py): with --catalog, a raw's new sidecar carries the catalog's develop settings, and an
existing XMP that differs from the catalog is left alone as stale (unless --force); without one, no sidecar is made
for a raw (its edits are in a catalog cropstyle was not given) unless --new-sidecars. A photo's NAME.EXT.xmp is
read by cropstyle only, never by Lightroom, so it is written as before.

`--editor darktable|rawtherapee` writes the crop as those editors keep it instead (export/editor_sidecars.py):
a history entry in darktable's NAME.EXT.xmp, or the crop and rotation of RawTherapee's NAME.EXT.pp3.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from cropstyle.export.editor_sidecars import EDITOR_FILES, EDITORS, HAS_CROP, missing_program, planned_write
from cropstyle.export.editor_sidecars import write_atomically as write_editor_file
from cropstyle.export.inference import CropModel, load_crop_model
from cropstyle.export.lightroom_sidecar import (
    SAVE_FIRST,
    UnwritableSettings,
    read_xmp_settings,
    sidecar_from_catalog,
    stale_differences,
    stale_reason,
    write_new_sidecar,
)
from cropstyle.export.predict import Prediction, predict_with
from cropstyle.extractor import crs, skip_reasons
from cropstyle.extractor.geometry import IDENTITY, LABEL_VALUES, Crop, to_stored
from cropstyle.extractor.lrcat import CatalogDevelopSettings, read_develop_settings
from cropstyle.extractor.metadata import MetadataTool, metadata_tool
from cropstyle.extractor.photos import LibraryPhoto

EMBEDDED_CROP = "its crop is embedded in the file: a sidecar would be ignored (--in-place --force replaces it)"
EXPORT_SKIP = "export, its pixels are already cropped"
ORIENTATION_CONFLICT = "its sidecar's orientation differs from the file's: apply without --in-place"
LEFT_UNCROPPED = "the model leaves it uncropped"
# Lightroom write-back (plan_lightroom)
NO_SIDECAR = "no sidecar: Lightroom's edits are in its catalog; give --catalog or --new-sidecars"
NOT_IN_CATALOG = "no sidecar and not in the catalog (--remap OLD=NEW if its paths differ, or --new-sidecars)"
ROTATED = "rotated in Lightroom (orientation {catalog} in the catalog, {file} in the file): " + SAVE_FIRST
UNREADABLE_XMP = "its XMP cannot be read to compare with the catalog ({target})"


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
    packet: str | None = None  # a new sidecar's whole XMP: the catalog's develop settings with the crop (--catalog)
    editor_file: str | None = None  # --editor: the darktable sidecar's or RawTherapee profile's new text
    editor: str = "lightroom"

    def line(self) -> str:
        if self.editor_file is not None:
            values = " ".join(f"{name}={value:.6f}" for name, value in zip(LABEL_VALUES, self.displayed.values()))
            where = f"new {EDITOR_FILES[self.editor].what} " if self.created else ""
            replaced = f" (replaces {' '.join(f'{v:.6f}' for v in self.replaced.values())})" if self.replaced else ""
            return f"{self.source}: {self.status} {values} (displayed frame) into {where}{self.target}{replaced}"
        if self.stored is None:
            return f"{self.source}: {self.status}, {self.reason}"
        values = " ".join(
            f"{name.removeprefix('Crop')}={crs.text(value)}" for name, value in zip(crs.CROP_TAGS, self.stored.values())
        )
        where = "new sidecar " if self.created else ""
        settings = " with the catalog's develop settings" if self.packet else ""
        replaced = f" (replaces {' '.join(map(crs.text, self.replaced.values()))})" if self.replaced else ""
        text = f"{self.source}: {self.status} {values} into {where}{self.target}{settings}{replaced}"
        return text + (f": {self.reason}" if self.reason else "")


@dataclass
class ApplySummary:
    actions: list[ApplyAction] = field(default_factory=list)
    dry_run: bool = False
    notes: list[str] = field(default_factory=list)  # lines about the run, printed first

    @property
    def counts(self) -> Counter:
        return Counter(action.status for action in self.actions)

    def report(self, verbose: bool | None = None) -> str:
        """Per photo lines (always with --dry-run; else only failures), then the summary."""
        verbose = self.dry_run if verbose is None else verbose
        lines = self.notes + [action.line() for action in self.actions if verbose or action.status == "failed"]
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
    catalog: Path | None = None,
    remap: Sequence[tuple[str, str]] = (),
    new_sidecars: bool = False,
    editor: str = "lightroom",
    min_confidence: float | None = None,
) -> ApplySummary:
    """Predict every photo under `paths` and write its crop for Lightroom (see the module docstring), or for
    `editor` (darktable, rawtherapee). `catalog` (read only, its paths rewritten by `remap` as extract does) holds
    the photos' develop settings. `min_confidence`: photos whose confidence (expected IoU) is below it are skipped."""
    if editor not in EDITORS:
        raise ValueError(f"--editor must be one of {', '.join(EDITORS)}, not {editor!r}")
    lightroom_only = [
        name
        for name, given in (("--catalog", catalog), ("--new-sidecars", new_sidecars), ("--in-place", in_place))
        if given
    ]
    if editor != "lightroom" and lightroom_only:
        raise ValueError(f"{', '.join(lightroom_only)} only apply to Lightroom, not --editor {editor}")
    # Read first: a catalog that cannot be read stops the run before the model loads.
    settings = read_develop_settings(catalog, remap) if catalog is not None else None
    model = model or load_crop_model(run)
    if min_confidence is not None and model.unsure_below is None:
        raise ValueError(
            f"{model.run.path} gives no confidence (trained before cropstyle had one): train it again, or apply "
            "without --min-confidence"
        )
    summary = ApplySummary(dry_run=dry_run)
    note = missing_program(editor) if editor != "lightroom" else None
    if note:
        summary.notes.append(note)
    with metadata_tool() as tool, ThreadPoolExecutor(jobs or os.cpu_count() or 1) as pool:
        predictions = predict_with(model, tool, pool, paths, batch_size=batch_size)
        claimed: set[str] = set()
        for prediction in predictions:
            if min_confidence is not None and prediction.crop is not None and prediction.confidence < min_confidence:
                summary.actions.append(
                    ApplyAction(prediction.source, "skipped", f"confidence below --min-confidence {min_confidence:g}")
                )
                continue
            if editor == "lightroom":
                action = plan(prediction, force=force, in_place=in_place)
                action = plan_lightroom(action, prediction, tool, settings, force=force, new_sidecars=new_sidecars)
            else:
                action = plan_editor(prediction, editor, force=force)
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


def plan_editor(prediction: Prediction, editor: str, force: bool = False) -> ApplyAction:
    """The darktable sidecar or RawTherapee profile this prediction's crop goes into, or why nothing is written."""
    photo: LibraryPhoto | None = prediction.photo
    if prediction.crop is None or photo is None:
        return ApplyAction(prediction.source, "skipped", prediction.skipped or "no prediction")
    if prediction.crop == IDENTITY:
        return ApplyAction(prediction.source, "skipped", LEFT_UNCROPPED)
    if photo.export:
        return ApplyAction(prediction.source, "skipped", f"{EXPORT_SKIP} ({photo.export})")
    planned = planned_write(editor, photo, prediction.crop, prediction.width, prediction.height, force)
    if isinstance(planned, str):
        return ApplyAction(prediction.source, "skipped", planned)
    return ApplyAction(
        prediction.source,
        "written",
        target=planned.target,
        created=planned.created,
        displayed=prediction.crop,
        replaced=planned.replaced,
        editor_file=planned.text,
        editor=editor,
    )


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


# --- Lightroom write-back: never cost an edit ---------------------------------------------------------------------


def plan_lightroom(
    action: ApplyAction,
    prediction: Prediction,
    tool: MetadataTool,
    catalog: dict[Path, CatalogDevelopSettings] | None,
    force: bool = False,
    new_sidecars: bool = False,
) -> ApplyAction:
    """`action` (from `plan`) made safe for Lightroom's Read Metadata from Files, or why nothing is written.

    Only XMP that Lightroom reads is concerned: a raw's sidecar, and a photo's own XMP (--in-place). A raw without
    a sidecar gets one with the catalog's develop settings, or none; an existing XMP is written only when it holds
    the catalog's settings (or --force). The catalog's crop is the crop there is (--force replaces it)."""
    photo = prediction.photo
    if action.status != "written" or photo is None:
        return action
    if photo.kind != "raw" and action.target != photo.path:
        return action  # NAME.EXT.xmp beside a JPEG: only cropstyle reads it
    entry = catalog.get(Path(os.path.abspath(photo.path))) if catalog is not None else None
    if entry is None:
        if action.created and not new_sidecars:
            return _skip(action, NO_SIDECAR if catalog is None else NOT_IN_CATALOG)
        return action  # an existing XMP no catalog was given for, or --new-sidecars: as before
    known = entry.photo
    if known.problem:
        return _skip(action, f"{skip_reasons.UNREADABLE}: catalog: {known.problem}")
    if known.already_applied:
        return _skip(action, f"{EXPORT_SKIP} ({skip_reasons.EXPORT}: AlreadyApplied in the catalog)")
    if known.perspective:
        return _skip(action, skip_reasons.PERSPECTIVE)
    if known.crop is not None and known.crop != IDENTITY:
        if not force:
            return _skip(action, HAS_CROP)
        action.replaced = known.crop
    if action.created:
        if known.orientation is not None and known.orientation != photo.orientation:
            # The crop was predicted for the photo as the file shows it, not as Lightroom does.
            return _skip(action, ROTATED.format(catalog=known.orientation, file=photo.orientation))
        try:
            action.packet = sidecar_from_catalog(entry.settings or {}, action.stored, known.orientation)
        except UnwritableSettings as error:
            return _skip(action, str(error))
        return action
    in_file = action.target == photo.path
    existing = read_xmp_settings(tool, action.target)
    if existing is None:
        return _skip(action, UNREADABLE_XMP.format(target=action.target.name))
    differences = stale_differences(
        existing,
        entry.settings or {},
        sidecar_orientation=photo.orientation,  # what Lightroom reads: the XMP's tiff:Orientation, else the EXIF
        catalog_orientation=known.orientation,
        where="the file" if in_file else "the sidecar",
    )
    if differences and not force:
        return _skip(action, stale_reason(action.target, differences, in_file=in_file))
    return action


def _skip(action: ApplyAction, reason: str) -> ApplyAction:
    return ApplyAction(action.source, "skipped", reason)


def _write(tool, action: ApplyAction) -> None:
    if action.editor_file is not None:
        if action.created and action.target.exists():
            action.status, action.reason = "failed", f"{action.target} appeared while apply ran: not replaced"
            return
        try:
            write_editor_file(action.target, action.editor_file)
        except OSError as error:
            action.status, action.reason = "failed", f"cannot write {action.target}: {error.strerror or error}"
        return
    if action.packet is not None:  # a whole new sidecar: written here, never over a file that appeared since
        try:
            write_new_sidecar(action.target, action.packet)
        except OSError as error:
            action.status, action.reason = "failed", f"cannot write {action.target}: {error.strerror or error}"
        return
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
