"""The page's third-party files: TF.js with its wasm backend, cropper.js and smartcrop.js, at the versions that
web/package-lock.json pins.

`copy_vendor` copies the files the page loads, and nothing else (no source maps, no node builds), from an npm
install into `web/vendor/<prefix>/`, each package with its licence, and writes `vendor/PACKAGES.json` (name,
version, licence, integrity of each). The server serves that folder at /vendor/ and the export's parity check
runs the same files in node, so what is checked is what the browser gets. In a checkout scripts/setup.sh fills
it; a wheel's build fills it inside the package (setup.py), so an installed cropstyle needs no node_modules.

    python web/vendor.py WEB_FOLDER      (npm ci in WEB_FOLDER first; scripts/setup.sh does both; a vendor/
                                          already complete at the locked versions is left as it is)

Only the standard library: setup.py runs this file before cropstyle is installed.
"""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

WEB = Path(__file__).resolve().parent
VENDOR = WEB / "vendor"
LICENCE_TEXTS = WEB / "licenses"  # the licence texts a package does not ship itself


@dataclass(frozen=True)
class VendorPackage:
    prefix: str  # served at /vendor/<prefix>/<file name>
    name: str  # the npm package
    files: tuple[str, ...]  # inside the package, copied flat into the prefix folder
    licence: str  # SPDX id, as the lock file says; its text is the package's LICENSE or LICENCE_TEXTS/<id>.txt


PACKAGES = (
    VendorPackage("tfjs", "@tensorflow/tfjs", ("dist/tf.es2017.min.js",), "Apache-2.0"),
    VendorPackage(
        "tfjs-backend-wasm",
        "@tensorflow/tfjs-backend-wasm",
        (
            "dist/tf-backend-wasm.es2017.min.js",
            "dist/tfjs-backend-wasm.wasm",
            "dist/tfjs-backend-wasm-simd.wasm",
            "dist/tfjs-backend-wasm-threaded-simd.wasm",
        ),
        "Apache-2.0",
    ),
    VendorPackage("cropperjs", "cropperjs", ("dist/cropper.min.js", "dist/cropper.min.css"), "MIT"),
    VendorPackage("smartcrop", "smartcrop", ("smartcrop.js",), "MIT"),
)
MANIFEST = "PACKAGES.json"


class NotInstalled(ValueError):
    """node_modules lacks a package or holds another version than the lock file's: `npm ci` mends it."""


def expected_files() -> list[str]:
    """Every file of a complete vendor folder, relative to it."""
    files = [MANIFEST]
    for package in PACKAGES:
        files += [f"{package.prefix}/{Path(name).name}" for name in package.files] + [f"{package.prefix}/LICENSE"]
    return files


def missing_files(vendor: Path = VENDOR) -> list[str]:
    return [name for name in expected_files() if not (vendor / name).is_file()]


def copy_vendor(node_modules: Path, lock_file: Path, out: Path) -> list[dict]:
    """Copy the page's files from `node_modules` (installed from `lock_file`) into `out`, replacing it."""
    lock = json.loads(lock_file.read_text(encoding="utf-8"))["packages"]
    staged = out.with_name(out.name + ".part")
    shutil.rmtree(staged, ignore_errors=True)
    manifest = []
    for package in PACKAGES:
        source = node_modules / package.name
        locked = lock.get(f"node_modules/{package.name}")
        if locked is None:
            raise ValueError(f"{lock_file} does not pin {package.name}")
        installed = (
            json.loads((source / "package.json").read_text(encoding="utf-8"))["version"]
            if (source / "package.json").is_file()
            else None
        )
        if installed != locked["version"]:
            raise NotInstalled(
                f"{source} holds {package.name} {installed}, {lock_file} pins {locked['version']}: "
                f"run `npm ci` in {lock_file.parent}"
            )
        if locked.get("license") != package.licence:
            raise ValueError(f"{package.name} {installed} is licensed {locked.get('license')}, not {package.licence}")
        folder = staged / package.prefix
        folder.mkdir(parents=True)
        for name in package.files:
            shutil.copyfile(source / name, folder / Path(name).name)
        own = source / "LICENSE"
        shutil.copyfile(own if own.is_file() else LICENCE_TEXTS / f"{package.licence}.txt", folder / "LICENSE")
        manifest.append(
            {
                "prefix": package.prefix,
                "name": package.name,
                "version": locked["version"],
                "license": package.licence,
                "integrity": locked.get("integrity"),
            }
        )
    (staged / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    shutil.rmtree(out, ignore_errors=True)
    staged.rename(out)
    return manifest


def is_current(web: Path) -> bool:
    """`web/vendor/` holds every file, from the packages and versions the lock file pins (set-up skips the copy)."""
    try:
        manifest = json.loads((web / "vendor" / MANIFEST).read_text(encoding="utf-8"))
        lock = json.loads((web / "package-lock.json").read_text(encoding="utf-8"))["packages"]
    except (OSError, ValueError, KeyError):
        return False
    pinned = [(p.name, lock.get(f"node_modules/{p.name}", {}).get("integrity")) for p in PACKAGES]
    return [(entry.get("name"), entry.get("integrity")) for entry in manifest] == pinned and not missing_files(
        web / "vendor"
    )


if __name__ == "__main__":
    web = Path(sys.argv[1]) if len(sys.argv) > 1 else WEB
    if not is_current(web):
        for entry in copy_vendor(web / "node_modules", web / "package-lock.json", web / "vendor"):
            print(f"vendor: {entry['name']} {entry['version']} ({entry['license']}) → vendor/{entry['prefix']}/")
