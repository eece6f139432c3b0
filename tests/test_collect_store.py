"""CorrectionStore on its own: idempotent, content-addressed, and what a crash can and cannot leave behind."""
from __future__ import annotations

import sqlite3

from cropstyle.extractor.geometry import Crop
from cropstyle.web.store import DATABASE, CorrectionStore
from cropstyle.samples.load import photo_bytes

CROP = Crop(0.1, 0.1, 0.9, 0.9, 0.0)


def test_add_is_idempotent_and_content_addressed(tmp_path):
    photo = photo_bytes(200, 100, seed=1)
    with CorrectionStore(tmp_path) as store:
        first, created = store.add(photo, "jpg", 200, 100, 1, CROP, predicted=CROP, model="m", client="127.0.0.1")
        again, created_again = store.add(photo, "jpg", 200, 100, 1, CROP)
        other, _ = store.add(photo, "jpg", 200, 100, 1, Crop(0.2, 0.1, 0.9, 0.9, 0.0))
        assert (created, created_again, first == again, first != other) == (True, False, True, True)
        assert store.count() == 2
        assert len({row.path for row in store.all()}) == 1  # one file for both corrections of the photo
        assert store.photo_path(store.get(first)).read_bytes() == photo
        assert store.check().missing_files == store.check().orphan_files == []
    with sqlite3.connect(tmp_path / DATABASE) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_what_a_crash_leaves_is_never_counted(tmp_path):
    """A crash while writing leaves a file in tmp/ (removed at the next open); a crash between the file and
    the row leaves a complete photo without a row (listed as an orphan, not counted)."""
    with CorrectionStore(tmp_path) as store:
        store.add(photo_bytes(200, 100, seed=2), "jpg", 200, 100, 1, CROP)
    (tmp_path / "tmp" / "deadbeef.part").write_bytes(b"\xff\xd8 half a jpeg")
    orphan = tmp_path / "photos" / "ab" / ("ab" + "0" * 62 + ".jpg")
    orphan.parent.mkdir(exist_ok=True)
    orphan.write_bytes(photo_bytes(64, 64, seed=3))
    with CorrectionStore(tmp_path) as store:
        check = store.check()
        assert check.rows == store.count() == 1
        assert check.temporary_files == [] and not any((tmp_path / "tmp").iterdir())
        assert check.orphan_files == [str(orphan.relative_to(tmp_path))]
        assert check.missing_files == []
