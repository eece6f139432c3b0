#!/usr/bin/env bash
# Installs what cropstyle needs on a Debian machine, idempotently: Debian packages (as root; otherwise a
# one-line hint), .venv with the pinned Python packages, and the browser's npm packages in web/node_modules.
# `make demo` and `make test` run it first.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

# Debian package ← the check that says it is missing.
missing=()
command -v exiftool >/dev/null 2>&1 || missing+=(libimage-exiftool-perl)   # reads and writes the crops
ldconfig -p 2>/dev/null | grep 'libvips.so.42' >/dev/null || missing+=(libvips42)  # saliency baseline (pyvips); no -q: SIGPIPE fails pipefail
command -v chromium >/dev/null 2>&1 || missing+=(chromium)                  # the web tests and benchmark
command -v node >/dev/null 2>&1 || missing+=(nodejs)                        # TF.js parity check of the export
command -v npm >/dev/null 2>&1 || missing+=(npm)
"$PYTHON" -c 'import ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)  # the shared store's tests (a throwaway cluster)
command -v darktable-cli >/dev/null 2>&1 || missing+=(darktable)            # apply --editor darktable, checked by darktable itself
command -v rawtherapee-cli >/dev/null 2>&1 || missing+=(rawtherapee)        # apply --editor rawtherapee, likewise
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing ${missing[*]} with apt-get"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "setup: cropstyle needs ${missing[*]}: run  sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
  echo "setup: cropstyle needs Python 3.11 or newer; $PYTHON is $("$PYTHON" --version 2>&1)" >&2; exit 1; }

# The venv is (re)installed when pyproject.toml changes: the stamp is the file it was built from.
stamp=.venv/.installed-from
if [ ! -f "$stamp" ] || ! cmp -s pyproject.toml "$stamp"; then
  echo "setup: installing Python packages into .venv (TensorFlow is large: a few minutes the first time)"
  [ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
  # The TF.js converter without its broken requirements (see export/tfjs_shims.py).
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps \
    tensorflowjs==4.22.0 tf-keras==2.19.0 tensorflow-hub==0.16.1
  cp pyproject.toml "$stamp"
fi

# The browser's scripts, styles and wasm files, served locally by `cropstyle serve`: the npm packages in
# web/node_modules (web/tests run in node with them), the files the page loads copied to web/vendor/.
if [ ! -f web/node_modules/.package-lock.json ] || ! cmp -s web/package-lock.json web/node_modules/.installed-from; then
  echo "setup: installing the web page's npm packages into web/node_modules"
  (cd web && npm ci --no-audit --no-fund --loglevel=error)
  cp web/package-lock.json web/node_modules/.installed-from
fi
"$PYTHON" web/vendor.py web  # copies when web/vendor/ is incomplete or not the locked versions
