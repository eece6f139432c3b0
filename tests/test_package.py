"""The installed package: one namespace, `cropstyle.*`, that works from a fresh virtual environment."""
from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

from tests.conftest import PROJECT

# What the wheel is built from (the checkout's build outputs and node_modules stay out of it).
SOURCES = ["pyproject.toml", "README.md", "cropstyle", "extractor", "training", "export", "web", "samples"]


def build_wheel(tmp_path: Path) -> Path:
    """The wheel, built offline from a copy of the sources (a build writes into its source folder)."""
    source = tmp_path / "source"
    source.mkdir()
    for name in SOURCES:
        if (PROJECT / name).is_dir():
            shutil.copytree(PROJECT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "node_modules"))
        else:
            shutil.copyfile(PROJECT / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
                    "-w", str(tmp_path / "dist"), str(source)], check=True, capture_output=True, text=True)
    (wheel,) = (tmp_path / "dist").glob("cropstyle-*.whl")
    return wheel


def test_wheel_installs_one_namespace_that_works_outside_the_checkout(tmp_path):
    wheel = build_wheel(tmp_path)
    names = zipfile.ZipFile(wheel).namelist()
    assert {name.split("/")[0] for name in names} == {"cropstyle", "cropstyle-0.1.0.dist-info"}
    for data in ("cropstyle/samples/lrcat_template.sql", "cropstyle/export/parity.mjs",
                 "cropstyle/web/static/index.html", "cropstyle/web/static/geometry.js"):
        assert data in names

    # A fresh venv with only the wheel; its requirements are this venv's, seen through a .pth file (no index).
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q",
                    str(wheel)], check=True, capture_output=True, text=True)
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    (site / "requirements-from-the-test-venv.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    script = """
import importlib, pkgutil, sys
from pathlib import Path
import cropstyle
assert Path(cropstyle.__file__).is_relative_to(sys.argv[1]), cropstyle.__file__
modules = [m.name for m in pkgutil.walk_packages(cropstyle.__path__, "cropstyle.") if m.name != "cropstyle.__main__"]
for name in modules:
    assert Path(importlib.import_module(name).__file__).is_relative_to(sys.argv[1]), name
# The stages are only inside the namespace: no generic top-level names.
for generic in ("extractor", "training", "export", "web", "samples"):
    assert importlib.util.find_spec(generic) is None, generic
from cropstyle.extractor import lrcat
from cropstyle.extractor.geometry import Crop
from cropstyle.samples.catalog import CatalogEntry, write_catalog
write_catalog(Path("out.lrcat"), [CatalogEntry(Path("/p/a/x.jpg"), 6, 600, 400, Crop(0.1, 0.2, 0.9, 0.8, 3.0))])
print(len(modules), [(str(p.path), p.orientation, p.crop) for p in lrcat.read_catalog(Path("out.lrcat"))])
"""
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    done = subprocess.run([str(python), "-c", script, str(site)], cwd=outside, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr[-3000:]
    count, photos = done.stdout.strip().split(" ", 1)
    assert int(count) >= 30
    assert photos == "[('/p/a/x.jpg', 6, Crop(left=0.1, top=0.2, right=0.9, bottom=0.8, angle=3.0))]"
    help_text = subprocess.run([str(venv / "bin" / "cropstyle"), "--help"], cwd=outside, capture_output=True,
                               text=True, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert help_text.returncode == 0 and "extract" in help_text.stdout
