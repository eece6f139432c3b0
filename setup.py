"""Everything is in pyproject.toml but one build step: the wheel carries the page's third-party files (TF.js and its
wasm, cropper.js, smartcrop.js) from the npm packages pinned in web/package-lock.json, with their licences
(web/vendor.py), so that an installed cropstyle serves the page and checks its exports without node_modules."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


def _vendor_module():
    spec = importlib.util.spec_from_file_location("cropstyle_build_vendor", ROOT / "web" / "vendor.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


class BuildWithVendor(build_py):
    def run(self) -> None:
        editable = getattr(self, "editable_mode", False)
        if not editable:  # a build folder left by an earlier build may hold modules since moved or removed
            shutil.rmtree(Path(self.build_lib) / "cropstyle", ignore_errors=True)
        super().run()
        if editable:
            return  # an editable install serves the checkout's web/vendor/, which scripts/setup.sh fills
        web = ROOT / "web"
        vendor = _vendor_module()
        out = Path(self.build_lib) / "cropstyle" / "web" / "vendor"
        arguments = (web / "node_modules", web / "package-lock.json", out)
        try:
            vendor.copy_vendor(*arguments)
        except vendor.NotInstalled:  # no node_modules, or not the locked versions
            npm = shutil.which("npm")
            if npm is None:
                raise RuntimeError(
                    "building cropstyle needs npm (Debian: apt-get install npm) to fetch the web "
                    "page's scripts pinned in web/package-lock.json"
                ) from None
            # Only what the page loads (no linter); no .installed-from stamp, so scripts/setup.sh still installs all.
            subprocess.run(
                [npm, "ci", "--omit=dev", "--no-audit", "--no-fund", "--loglevel=error"], cwd=web, check=True
            )
            vendor.copy_vendor(*arguments)


setup(cmdclass={"build_py": BuildWithVendor})
