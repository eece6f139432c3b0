"""The one place that imports the `tensorflowjs` converter, and the stubs it needs to import at all.

Why: `pip install tensorflowjs==4.22.0` with its dependencies pulls in TensorFlow Decision Forests, JAX,
flax and another TensorFlow, and the result fails to import (protobuf clash). So it is installed
`--no-deps`, with the two packages it really uses for a SavedModel (`tf-keras`, `tensorflow-hub`):

    pip install --no-deps tensorflowjs==4.22.0 tf-keras==2.19.0 tensorflow-hub==0.16.1

Two imports at the top of the converter are never used for a Keras SavedModel; they are satisfied
here, only while `tensorflowjs.converters` is being imported:

- `tensorflow_decision_forests` (imported by `tf_saved_model_conversion_v2` for decision-forest ops):
  an empty module, removed from `sys.modules` again once the converter is imported.
- `tensorflowjs.converters.jax_conversion` (imports `jax`, for `convert_jax`): replaced by a module
  whose `convert_jax` raises. No `jax` stub: Keras probes `import jax` and must keep seeing it absent.

A stub is only used when the real module is not installed. Nothing else in cropstyle imports
`tensorflowjs`, so no other code path depends on this.
"""

from __future__ import annotations

import importlib.util
import sys
import types
import warnings

# Installed apart, --no-deps (scripts/setup.sh; the README's install for users): not in pyproject.toml.
SEPARATE_INSTALL = ("tensorflowjs==4.22.0", "tf-keras==2.19.0", "tensorflow-hub==0.16.1")


def _missing(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is None
    except (ImportError, ValueError):
        return True


def _convert_jax(*args, **kwargs):
    raise NotImplementedError("cropstyle installs tensorflowjs without JAX (export/tfjs_shims.py)")


def tfjs_converters():
    """`tensorflowjs.converters`, importable without its broken dependency tree."""
    if "tensorflowjs.converters" in sys.modules:
        return sys.modules["tensorflowjs.converters"]
    import keras  # noqa: F401  (imported first, so it settles its optional backends before any stub exists)

    temporary = []
    if _missing("tensorflow_decision_forests"):
        temporary.append("tensorflow_decision_forests")
        sys.modules["tensorflow_decision_forests"] = types.ModuleType("tensorflow_decision_forests")
    if _missing("jax"):
        jax_conversion = types.ModuleType("tensorflowjs.converters.jax_conversion")
        jax_conversion.convert_jax = _convert_jax
        sys.modules["tensorflowjs.converters.jax_conversion"] = jax_conversion
    try:
        with warnings.catch_warnings():  # tensorflow-hub imports pkg_resources (setuptools is pinned below 81 for it)
            warnings.filterwarnings("ignore", "pkg_resources is deprecated as an API", UserWarning)
            from tensorflowjs import converters
    except ImportError as error:
        raise RuntimeError(
            f"the TF.js converter cannot be imported ({error}); install it apart, without its requirements: "
            f"`{sys.executable} -m pip install --no-deps {' '.join(SEPARATE_INSTALL)}`"
        ) from error
    finally:
        for name in temporary:
            sys.modules.pop(name, None)
    return converters


def tfjs_weight_files():
    """`tensorflowjs.read_weights` and `tensorflowjs.write_weights`, the converter's own weight reader and
    writer (the package's `__init__` imports the converter, hence the shims)."""
    tfjs_converters()
    from tensorflowjs import read_weights, write_weights

    return read_weights, write_weights


def tfjs_version() -> str:
    tfjs_converters()
    import tensorflowjs

    return tensorflowjs.__version__
