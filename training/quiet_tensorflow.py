"""TensorFlow's C++ logging kept off the user's terminal (shown with `cropstyle --debug`).

Importing TensorFlow prints a dozen lines before any of ours: oneDNN's notice, "Could not find cuda drivers",
cuFFT/cuDNN/cuBLAS factory registration, "computation placer already registered", CPU instruction sets; the
TF.js conversion adds grappler's, probing for a GPU a "failed call to cuInit". TF_CPP_MIN_LOG_LEVEL=2 keeps
TensorFlow's own information and warnings out (its errors still show), but absl's lines ignore it (they are
written before its logging is set up): inside `native_logging_quieted`, file descriptor 2 goes to a temporary
file, dropped when the block succeeds and shown when it raises, so a failure keeps its explanation.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

_quiet = False  # set by import_tensorflow_quietly: the command runs without --debug


@contextmanager
def native_logging_quieted() -> Iterator[None]:
    """What is written to file descriptor 2 inside is kept back, once a command has asked for quiet, and shown only
    when the block raises."""
    if not _quiet:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            yield
        except BaseException:
            _restore(saved)
            caught.seek(0)
            sys.stderr.buffer.write(caught.read())
            sys.stderr.flush()
            raise
        _restore(saved)


def _restore(saved: int) -> None:
    sys.stderr.flush()
    os.dup2(saved, 2)
    os.close(saved)


def import_tensorflow_quietly() -> None:
    """Import TensorFlow with its start-up logging kept back, and its information and warnings quiet from then on."""
    global _quiet
    _quiet = True
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with native_logging_quieted():
        import tensorflow

        tensorflow.config.list_physical_devices("GPU")  # CUDA's probe logs its errors on a machine without a GPU
