"""Tests that need ../shared skip in a clone alone, saying so; with CROPSTYLE_REQUIRE_SHARED set (.ci/run) such a
skip fails the run. Checked on a throwaway test file whose ../shared file is missing everywhere."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import PROJECT, REQUIRE_SHARED

NEEDS_A_MISSING_FILE = """
from tests.conftest import SHARED, in_shared

def test_reads_a_file_of_shared():
    in_shared(SHARED / "no-such-folder" / "photo.jpg")

def test_needs_nothing():
    pass
"""


@pytest.mark.parametrize(
    "required, code, last_line",
    [
        (False, 0, "1 passed, 1 skipped"),
        (True, 1, "1 passed, 1 skipped"),
    ],
)
def test_a_skip_for_want_of_shared_fails_only_where_it_is_required(tmp_path, required, code, last_line):
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["tests.conftest"]\n')
    (tmp_path / "test_needs_shared.py").write_text(NEEDS_A_MISSING_FILE)
    env = {key: value for key, value in os.environ.items() if key != REQUIRE_SHARED}
    if required:
        env[REQUIRE_SHARED] = "1"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-rs",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(tmp_path),
            str(tmp_path),
        ],
        cwd=PROJECT,
        env={**env, "PYTHONPATH": str(PROJECT)},
        capture_output=True,
        text=True,
    )
    assert done.returncode == code, done.stdout[-3000:]
    assert "needs ../shared (the external test corpus beside the development checkout): " in done.stdout
    assert last_line in done.stdout.strip().splitlines()[-1]
    refusal = f"{REQUIRE_SHARED} is set, but 1 test was skipped for want of {PROJECT.parent / 'shared'}"
    assert (refusal in done.stdout) is required
