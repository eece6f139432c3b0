"""`cropstyle collected STORE --out DATASET`: the collected corrections as a dataset in the standard format.

STORE is what `cropstyle serve --store` was given: a folder (SQLite) or a PostgreSQL URL. Each correction
becomes one labels.csv row with origin `collected`: its photo written by the dataset store as `extract` writes
its photos (DatasetStore.add_image: orientation applied, long side at most --size, named by content) and its
label as submitted (displayed frame of the uploaded photo, Lightroom corners). `source` is where the store keeps the
photo (the file's absolute path, or the database URL without password and the photo's digest): when the
same photo was corrected more than once, its latest correction is the label.
Incremental like `extract`: rows are keyed by source and fingerprinted by correction id, so a re-run
renders only new corrections, and rows from other origins in DATASET are kept.
The report ends with how many corrections started from the page's suggestion of each rank (`suggestion_ranks`):
how often the first suggestion was the one the user kept working from.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from cropstyle.extractor import skip_reasons
from cropstyle.extractor.dataset import TRAINING_LONG_SIDE, DatasetStore, label_row
from cropstyle.extractor.geometry import crop_problem
from cropstyle.extractor.pixels import PixelError
from cropstyle.web.store import Correction, open_store
from cropstyle.web.uploads import MAX_RANK


@dataclass
class Summary:
    corrections: int = 0  # rows in the store
    written: int = 0  # labels (re)written in this run
    unchanged: int = 0  # already in DATASET from an earlier run
    superseded: int = 0  # older corrections of a photo corrected again later
    skipped: Counter = field(default_factory=Counter)
    labels_total: int = 0
    out: Path | None = None
    suggestions: Counter = field(default_factory=Counter)  # rank → corrections that started from it (every row)

    def report(self) -> str:
        lines = [
            f"{self.corrections} corrections: {self.written} written, "
            f"{self.unchanged} unchanged since the last run, "
            f"{self.superseded} superseded by a later correction of the same photo, "
            f"{sum(self.skipped.values())} skipped"
        ]
        lines += [f"  skipped, {reason}: {count}" for reason, count in self.skipped.most_common()]
        lines.append(f"{self.out}/labels.csv now holds {self.labels_total} examples")
        lines.append(suggestions_line(self.suggestions))
        return "\n".join(lines)


def suggestion_ranks(rows: Iterable[Correction]) -> Counter[int]:
    """Rank → how many of `rows` started from the suggestion of that rank (1: the first offered). Rows without a
    suggestion (sent without a model, or stored before the column existed) are not counted."""
    return Counter(json.loads(row.suggestion)["rank"] for row in rows if row.suggestion)


def suggestions_line(ranks: Counter[int]) -> str:
    """One line for the report: 'suggestions: N corrections started from a ranked suggestion: rank 1 A, …'."""
    total = sum(ranks.values())
    if not total:
        return "suggestions: none recorded"
    counts = ", ".join(f"rank {rank} {ranks[rank]}" for rank in range(1, max(MAX_RANK, *ranks) + 1))
    return f"suggestions: {total} correction{'s' if total != 1 else ''} started from a ranked suggestion: {counts}"


def collected(store: str | Path, out: Path, size: int = TRAINING_LONG_SIDE, progress: bool = True) -> Summary:
    """Write the corrections of the collection store `store` (folder or PostgreSQL URL) into DATASET `out`
    (created or updated)."""
    out = Path(out)
    summary = Summary(out=out)
    with open_store(store, create=False) as corrections:
        rows = corrections.all()
        summary.corrections = len(rows)
        summary.suggestions = suggestion_ranks(rows)  # every correction: each is one user's choice
        latest = {}
        for row in rows:  # ordered by submission time: a later correction of the same photo wins
            latest[row.photo] = row
        summary.superseded = len(rows) - len(latest)
        dataset = DatasetStore(out)
        for row in tqdm(list(latest.values()), unit="photo", desc="collected", disable=not progress):
            source, fingerprint = corrections.photo_source(row), f"collected:{row.id}"
            if dataset.unchanged((source, ""), fingerprint):
                summary.unchanged += 1
                continue
            problem = crop_problem(row.crop, row.width, row.height)
            if problem:
                dataset.add_skipped(source, f"{skip_reasons.INVALID_CROP}: {problem}", fingerprint)
                summary.skipped[skip_reasons.INVALID_CROP] += 1
                continue
            try:
                image = dataset.add_image(corrections.photo_bytes(row), row.orientation, size)
            except (PixelError, OSError) as error:
                reason = str(error) if isinstance(error, PixelError) else f"{skip_reasons.MISSING_FILE}: {error}"
                dataset.add_skipped(source, reason, fingerprint)
                summary.skipped[reason.split(":")[0]] += 1
                continue
            dataset.add_label(
                label_row(
                    image=image.path,
                    source=source,
                    origin="collected",
                    width=row.width,
                    height=row.height,
                    has_crop=True,
                    crop=row.crop,
                    orientation=row.orientation,
                    fingerprint=fingerprint,
                )
            )
            summary.written += 1
        dataset.save()
        summary.labels_total = len(dataset.labels)
    return summary
