"""The installed package: a wheel built from the repository, installed into a fresh virtual environment outside the
checkout, runs every command and serves the page with nothing from the checkout (no node_modules, no ../shared).

The wheel's requirements are this venv's, seen through a .pth file: installing TensorFlow again from the index
would make the test depend on the network. What the package may import is checked apart, against what its
metadata declares."""

from __future__ import annotations

import ast
import csv
import importlib.metadata
import json
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import exiftool
import pytest
from PIL import Image

from cropstyle.export.tfjs_shims import SEPARATE_INSTALL
from cropstyle.extractor.geometry import LABEL_VALUES
from cropstyle.web import vendor
from tests.conftest import PROJECT
from tests.load import HOST, ServerProcess, photo_bytes
from tests.test_web_page import BROWSER_ARGS, CHROMIUM

# What the wheel is built from: what a clone holds, less the tests, benchmarks and build outputs.
SOURCES = [
    "pyproject.toml",
    "setup.py",
    "MANIFEST.in",
    "README.md",
    "cropstyle",
    "extractor",
    "training",
    "export",
    "web",
    "samples",
]
BUILD_OUTPUTS = shutil.ignore_patterns("__pycache__", "node_modules", "vendor", "vendor.part", "*.egg-info", "build")
VERSION = importlib.metadata.version("cropstyle")
# TensorFlow's C++ start-up lines (quiet_tensorflow.py keeps them out unless --debug).
TENSORFLOW_NOISE = re.compile(
    r"oneDNN|cuda|cuFFT|cuDNN|cuBLAS|computation placer|absl::InitializeLog|"
    r"cpu_feature_guard"
)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel, built offline from a copy of the sources (a build writes into its source folder). Its build copies
    the page's npm files from web/node_modules: the checkout's, linked in (the build runs `npm ci` without one)."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    source.mkdir()
    for name in SOURCES:
        if (PROJECT / name).is_dir():
            shutil.copytree(PROJECT / name, source / name, ignore=BUILD_OUTPUTS)
        else:
            shutil.copyfile(PROJECT / name, source / name)
    (source / "web" / "node_modules").symlink_to(PROJECT / "web" / "node_modules")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-q",
            "-w",
            str(root / "dist"),
            str(source),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    (built,) = (root / "dist").glob("cropstyle-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh venv with only the wheel installed; the requirements come from this venv through a .pth file."""
    venv = tmp_path_factory.mktemp("installed") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q", str(wheel)],
        check=True,
        capture_output=True,
        text=True,
    )
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    (site / "requirements-from-the-test-venv.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


def environment(venv: Path, home: Path) -> dict[str, str]:
    """A user's environment: the venv's programs, Debian's exiftool and node; nothing of this checkout."""
    return {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8"}


def test_wheel_holds_one_namespace_with_the_pages_files_and_their_licences(wheel):
    archive = zipfile.ZipFile(wheel)
    names = archive.namelist()
    assert {name.split("/")[0] for name in names} == {"cropstyle", f"cropstyle-{VERSION}.dist-info"}
    for data in (
        "cropstyle/samples/lrcat_template.sql",
        "cropstyle/export/parity.mjs",
        "cropstyle/web/static/index.html",
        "cropstyle/web/static/geometry.js",
        "cropstyle/samples/raw_stubs/Nikon.nef",
        "cropstyle/samples/raw_stubs/LICENSE-GPL-3.0",
        "cropstyle/training/imagenet_weights/mobilenetv2_to_block_10.weights.h5",
        "cropstyle/training/imagenet_weights/README.md",
    ):
        assert data in names
    assert sorted(
        name.removeprefix("cropstyle/web/vendor/") for name in names if name.startswith("cropstyle/web/vendor/")
    ) == sorted(vendor.expected_files())
    # The versions web/package-lock.json pins, each with its licence text.
    lock = json.loads((PROJECT / "web" / "package-lock.json").read_text())["packages"]
    manifest = json.loads(archive.read("cropstyle/web/vendor/PACKAGES.json"))
    assert [(entry["name"], entry["version"], entry["license"]) for entry in manifest] == [
        (package.name, lock[f"node_modules/{package.name}"]["version"], package.licence) for package in vendor.PACKAGES
    ]
    assert b"Apache License" in archive.read("cropstyle/web/vendor/tfjs/LICENSE")
    assert b"MIT" in archive.read("cropstyle/web/vendor/cropperjs/LICENSE")
    # The page's files are the bytes npm installed.
    assert (
        archive.read("cropstyle/web/vendor/tfjs-backend-wasm/tfjs-backend-wasm-simd.wasm")
        == (PROJECT / "web/node_modules/@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm").read_bytes()
    )
    # Test-only code stays out: the load generator, the throwaway PostgreSQL.
    assert not [name for name in names if re.search(r"/(load|postgres)\.py$", name)]
    # Nor the build's inputs: the npm lock file, the licence texts (each vendored package has its own LICENSE).
    assert not [name for name in names if name.endswith(("package.json", "package-lock.json", "Apache-2.0.txt"))]


def test_installed_code_imports_only_what_the_wheel_declares(wheel):
    """Every module the package imports is the standard library's, cropstyle's, or a declared requirement's (the
    TF.js converter, installed apart with --no-deps, is the one exception: export/tfjs_shims.py)."""
    archive = zipfile.ZipFile(wheel)
    metadata = archive.read(f"cropstyle-{VERSION}.dist-info/METADATA").decode()
    declared = {
        re.split(r"[\s\[<>=;!~]", line.removeprefix("Requires-Dist:").strip())[0].lower().replace("_", "-")
        for line in metadata.splitlines()
        if line.startswith("Requires-Dist:") and "extra ==" not in line
    }
    apart = {requirement.split("==")[0] for requirement in SEPARATE_INSTALL}
    distributions = importlib.metadata.packages_distributions()
    imported: dict[str, set[str]] = {}
    for name in names_of(archive, ".py"):
        for node in ast.walk(ast.parse(archive.read(name))):
            modules = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module]
                if isinstance(node, ast.ImportFrom) and node.level == 0
                else []
            )
            for module in modules:
                imported.setdefault(module.split(".")[0], set()).add(name)
    undeclared = {}
    for module, files in imported.items():
        if module in sys.stdlib_module_names or module == "cropstyle":
            continue
        owners = {owner.lower().replace("_", "-") for owner in distributions.get(module, [module])}
        if not owners & (declared | apart):
            undeclared[module] = sorted(files)
    assert undeclared == {}
    assert {"tensorflow", "keras", "pyexiftool", "uvicorn", "h11"} <= declared


def names_of(archive: zipfile.ZipFile, suffix: str) -> list[str]:
    return [name for name in archive.namelist() if name.endswith(suffix)]


def test_installed_package_runs_every_command_and_serves_the_page(venv, tmp_path):
    """sample-library → extract → train (one epoch, one model) → evaluate → export (its parity check in node) →
    predict → apply, then serve and the page in chromium, all from the installed package, outside the checkout."""
    home = tmp_path / "home"
    home.mkdir()
    env = environment(venv, home)
    cropstyle = str(venv / "bin" / "cropstyle")

    def run(*arguments: str) -> str:
        done = subprocess.run([cropstyle, *arguments], cwd=home, env=env, capture_output=True, text=True)
        assert done.returncode == 0, f"cropstyle {arguments[0]}: {done.stderr[-3000:]}"
        assert not TENSORFLOW_NOISE.search(done.stdout + done.stderr), done.stdout + done.stderr
        return done.stdout

    # Importable from the install only; no generic top-level names.
    where = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            """
import importlib, pkgutil, cropstyle
for m in pkgutil.walk_packages(cropstyle.__path__, "cropstyle."):
    if m.name != "cropstyle.__main__":
        importlib.import_module(m.name)
print(cropstyle.__file__, [importlib.util.find_spec(n) for n in ("extractor", "training", "export", "web", "samples")])
""",
        ],
        cwd=home,
        env=env,
        capture_output=True,
        text=True,
    )
    assert where.returncode == 0, where.stderr[-3000:]
    assert where.stdout.startswith(str(venv)) and where.stdout.strip().endswith("[None, None, None, None, None]")

    # The classic library: raws made from the stubs the wheel carries, a catalog, exports, broken files.
    summary = run("sample-library", "library", "--count", "30", "--seed", "3")
    assert "nef-sidecar" in summary and "dng" in summary
    run("extract", "library", "--out", "dataset")
    labels = list(csv.DictReader(open(home / "dataset" / "labels.csv", encoding="utf-8")))
    assert len(labels) >= 12 and any(row["origin"] == "xmp-sidecar" for row in labels)

    trained = run("train", "dataset", "--out", "run", "--epochs", "1", "--ensemble", "1", "--image-size", "32")
    assert re.fullmatch(r"training on (the CPU \(no GPU found\)|the GPU: .+)", trained.splitlines()[0]), trained
    run("evaluate", "run", "dataset", "--include-seen", "--out", "report")
    assert "saliency" in json.loads((home / "report" / "metrics.json").read_text())["methods"]
    exported = run("export", "run", "--out", "run/web", "--quantize", "uint8")
    assert "parity" in exported and (home / "run" / "web" / "model.json").is_file()
    metadata = json.loads((home / "run" / "web" / "metadata.json").read_text())
    assert metadata["parity"]["passed"] is True and metadata["parity"]["runtime"].startswith("@tensorflow/tfjs 4.22.0")

    photos = home / "to-crop"
    photos.mkdir()
    for k in range(3):
        (photos / f"photo{k}.jpg").write_bytes(photo_bytes(360, 240, seed=k))
    predicted = json.loads(run("predict", "run", str(photos), "--format", "json"))
    assert len(predicted) == 3
    run("apply", "run", str(photos))
    with exiftool.ExifToolHelper() as tool:
        tags = tool.get_tags([str(path) for path in sorted(photos.glob("*.xmp"))], ["XMP-crs:HasCrop"])
    assert len(tags) == 3 and all(tag.get("XMP:HasCrop") is True for tag in tags), tags

    # The installed server: its own page, TF.js, wasm, cropper.js, and the model just exported.
    with ServerProcess(home / "store", model=home / "run" / "web", program=(cropstyle,), cwd=home, env=env) as server:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
            page = browser.new_page()
            requests, errors = [], []
            page.on("request", lambda request: requests.append(request.url))
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
            page.set_default_timeout(120_000)
            page.goto(f"{server.url}/")
            page.wait_for_selector("body[data-state=ready]")
            photo = tmp_path / "visitor.jpg"
            Image.open(photos / "photo0.jpg").save(photo)
            page.set_input_files("#file", str(photo))
            page.wait_for_selector("body[data-state=suggested]")
            values = page.eval_on_selector("#crop-values", "element => ({...element.dataset})")
            backend = page.evaluate("window.cropstyle.state.model.backend")
            browser.close()
    assert errors == []
    assert backend == "wasm"
    assert values["problem"] == "" and all(0 <= float(values[key]) <= 1 for key in LABEL_VALUES[:4])
    assert [url for url in requests if not url.startswith((f"http://{HOST}:{server.port}/", "blob:", "data:"))] == []
    assert any(url.endswith(".wasm") for url in requests)
