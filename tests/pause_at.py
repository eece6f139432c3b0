"""Run the cropstyle command line, pausing inside one chosen call until the test says go on.

    python tests/pause_at.py PLAN.json cropstyle-arguments...

PLAN.json: {"call": "module:function", "nth": N, "first_argument_named": NAME or null,
            "ready": PATH, "release": PATH, "set": {"module:attribute": value, ...}}

The N-th call of `function` (counting only calls whose first argument is a path named NAME, when given)
creates READY, then waits until RELEASE exists, then runs. So a test interrupts the real program at a
point it controls (a phase of its own choosing), however fast or slow the machine is. Nothing else is
changed: the command is the real one, in its own process, with its real exiftool and files.
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path


def _resolve(name: str) -> tuple[object, str]:
    module, _, attribute = name.partition(":")
    return importlib.import_module(module), attribute


def main() -> None:
    # Ctrl-C as a terminal delivers it: a test runner started in the background (`make test &`, nohup) hands
    # its children SIGINT ignored, and Python then never raises KeyboardInterrupt.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    plan = json.loads(Path(sys.argv[1]).read_text())
    sys.argv = ["cropstyle", *sys.argv[2:]]
    for name, value in plan.get("set", {}).items():
        owner, attribute = _resolve(name)
        setattr(owner, attribute, value)
    owner, attribute = _resolve(plan["call"])
    original = getattr(owner, attribute)
    calls = 0
    lock = threading.Lock()

    @functools.wraps(original)
    def paused(*args, **kwargs):
        nonlocal calls
        wanted = plan.get("first_argument_named")
        if wanted is None or (args and Path(os.fspath(args[0])).name == wanted):
            with lock:
                calls += 1
                here = calls == plan["nth"]
            if here:
                Path(plan["ready"]).touch()
                while not Path(plan["release"]).exists():
                    time.sleep(0.01)
        return original(*args, **kwargs)

    setattr(owner, attribute, paused)
    from cropstyle.cli import entry

    entry()


if __name__ == "__main__":
    main()
