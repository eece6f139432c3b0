"""Benchmark: does the tf.data pipeline keep the model busy?

Images per second of `model.fit` fed by the real pipeline (training/pipeline.py: cached decode and resize,
shuffle, flip and jitter in parallel, prefetch) against the same model fed from in-memory tensors (the
same preprocessed images as NumPy arrays), in one run. Target: ratio ≥ 0.9. Also prints the step time and
the process's peak memory (max RSS) after each phase.

    .venv/bin/python bench/train.py [--dataset DATASET] [--count 512] [--image-size 96] [--batch-size 32] [--epochs 4]

Without --dataset it writes a synthetic dataset (samples/dataset.py) to a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keras  # noqa: E402
import numpy as np  # noqa: E402

from cropstyle.samples.dataset import write_dataset  # noqa: E402
from cropstyle.training import pipeline  # noqa: E402
from cropstyle.training.losses import CornerBoxIoU, CropLoss  # noqa: E402
from cropstyle.training.model import build_model  # noqa: E402


class EpochTimer(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds = getattr(self, "seconds", []) + [time.perf_counter() - self.started]


def fresh_model(image_size: int) -> keras.Model:
    keras.utils.set_random_seed(0)
    model = build_model("compact", image_size)
    model.compile(optimizer=keras.optimizers.AdamW(1e-3), loss=CropLoss(), metrics=[CornerBoxIoU()])
    return model


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed_fit(image_size: int, epochs: int, n: int, batch: int, **fit_args) -> tuple[float, float]:
    """(images per second, seconds per step) over `epochs` epochs after one untimed warm-up epoch."""
    timer = EpochTimer()
    fresh_model(image_size).fit(epochs=epochs + 1, callbacks=[timer], verbose=0, **fit_args)
    seconds = sum(timer.seconds[1:])
    print("    epoch seconds", [round(s, 2) for s in timer.seconds], flush=True)
    steps = epochs * -(-n // batch)
    return epochs * n / seconds, seconds / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path)
    parser.add_argument("--count", type=int, default=512, help="synthetic photos when no --dataset")
    parser.add_argument("--image-size", type=int, default=96)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=4, help="timed epochs (after one warm-up epoch)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        dataset = args.dataset or write_dataset(Path(scratch) / "data", args.count, seed=0, long_side=512)
        examples = pipeline.read_examples([dataset])
        n, size, batch = len(examples), args.image_size, args.batch_size
        rss: dict[str, float] = {}
        print(
            f"{n} photos, {size} px, batch {batch}, {args.epochs} timed epochs after a warm-up epoch, "
            f"compact model ({fresh_model(size).count_params():,} parameters)"
        )

        plain = pipeline.make_dataset(examples, size, batch, training=False, cache=False)
        images = np.concatenate([x["image"].numpy() for x, _ in plain])
        feeds = {
            "tf.data pipeline": lambda: {
                "x": pipeline.make_dataset(examples, size, batch, training=True, seed=0),
                "steps_per_epoch": -(-n // batch),
            },
            "in-memory tensors": lambda: {
                "x": {"image": images, "aspect": examples.aspects[:, None]},
                "y": examples.labels,
                "batch_size": batch,
                "shuffle": True,
            },
        }
        # The first fit in a process runs slow for a while (kernel and allocator warm-up): one untimed fit first.
        timed_fit(size, 1, n, batch, **feeds["in-memory tensors"]())
        # A, B, B, A: other work on the machine drifts over a run; this order cancels a steady drift.
        runs: dict[str, list[tuple[float, float]]] = {name: [] for name in feeds}
        for name in ["tf.data pipeline", "in-memory tensors", "in-memory tensors", "tf.data pipeline"]:
            runs[name].append(timed_fit(size, args.epochs, n, batch, **feeds[name]()))
            rss[name] = peak_rss_mib()
            print(f"  {name}: {runs[name][-1][0]:.1f} images/s", flush=True)

    print(f"{'feed':<20} {'images/s':>9} {'step (ms)':>10} {'peak RSS (MiB)':>15}")
    speed = {}
    for name, results in runs.items():
        speed[name] = float(np.mean([r[0] for r in results]))
        step = float(np.mean([r[1] for r in results]))
        print(f"{name:<20} {speed[name]:>9.1f} {step * 1000:>10.1f} {rss[name]:>15.0f}")
    ratio = speed["tf.data pipeline"] / speed["in-memory tensors"]
    print(
        f"ratio pipeline / in-memory: {ratio:.2f} (target ≥ 0.9); load average now {os.getloadavg()[0]:.1f}"
        f" on {os.cpu_count()} cores"
    )


if __name__ == "__main__":
    main()
