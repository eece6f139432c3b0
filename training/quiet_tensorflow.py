"""TensorFlow's C++ logging kept off the user's terminal (shown with `cropstyle --debug`).

Importing TensorFlow prints a dozen lines before any of ours: oneDNN's notice, "Could not find cuda drivers",
cuFFT/cuDNN/cuBLAS factory registration, "computation placer already registered", CPU instruction sets; the
TF.js conversion adds grappler's. TF_CPP_MIN_LOG_LEVEL silences TensorFlow's own logging, but absl's lines
ignore it (they are written before its logging is set up): inside `native_logging_quieted`, file descriptor 2
points to /dev/null. Python exceptions still reach the user: they are reported after the block.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

_quiet = False  # set by import_tensorflow_quietly: the command runs without --debug


@contextmanager
def native_logging_quieted() -> Iterator[None]:
    """Whatever is written to file descriptor 2 inside is dropped, once a command has asked for quiet."""
    if not _quiet:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def import_tensorflow_quietly() -> None:
    """Import TensorFlow with its start-up logging dropped, and keep its C++ logging quiet from then on."""
    global _quiet
    _quiet = True
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with native_logging_quieted():
        import tensorflow  # noqa: F401
