"""Benchmark the browser demo and the collection server (issue 6).

1. In-browser inference latency: Debian's chromium (headless, Playwright) opens the page served by
   `cropstyle serve`, chooses one photo, and times 20 suggestions after 3 warm-up runs on the wasm
   backend (the whole path: the photo drawn at the model's decode size, tf.browser.fromPixels, resize,
   the graph, reading the 5 numbers back; and, separately, from the photo already drawn at that size)
   against smartcrop.js (npm `smartcrop`) cropping the same photo in the same page. Medians for both.
2. Submissions: 500 multipart submissions from 20 concurrent clients on 127.0.0.1 (samples.load.run_load):
   throughput, median and p95 latency, errors.

    .venv/bin/python bench/web.py [--model RUN_OR_WEBMODEL] [--photo PHOTO] [--runs 20] [--out FILE.json]

Without --model, trains and exports a compact 128 px model on a small synthetic dataset first (about a
minute on 2 cores; the latency does not depend on what the weights learned).
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from cropstyle.samples.load import ServerProcess, make_photos, photo_bytes, run_load  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]


def build_model(root: Path, image_size: int) -> Path:
    from cropstyle.export.webmodel import export_webmodel
    from cropstyle.samples.dataset import write_dataset
    from cropstyle.training.train import train

    dataset = write_dataset(root / "dataset", 64, seed=0)
    train([dataset], root / "run", epochs=2, batch_size=16, image_size=image_size, verbose=0)
    export_webmodel(root / "run", root / "run" / "web")
    return root / "run"


def browser_latency(url: str, photo: Path, runs: int, backend: str) -> dict:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 960})
        page.set_default_timeout(300_000)
        page.goto(f"{url}/?backend={backend}")
        page.wait_for_selector("body[data-state=ready]")
        page.set_input_files("#file", str(photo))
        page.wait_for_selector("body[data-state=suggested]")
        result = page.evaluate(f"window.cropstyle.bench({runs}, 3)")
        result["model_info"] = page.text_content("#model-status")
        browser.close()
    return {
        "backend": result["backend"], "photo": f"{result['width']}×{result['height']}", "runs": runs,
        "model_ms_median": round(statistics.median(result["model"]), 2),
        "model_ms_p95": round(sorted(result["model"])[int(0.95 * (runs - 1))], 2),
        "model_from_decoded_ms_median": round(statistics.median(result["graphOnly"]), 2),
        "smartcrop_ms_median": round(statistics.median(result["smartcrop"]), 2),
        "smartcrop_ms_p95": round(sorted(result["smartcrop"])[int(0.95 * (runs - 1))], 2),
        "speedup_vs_smartcrop": round(statistics.median(result["smartcrop"]) / statistics.median(result["model"]), 2),
        "model_info": result["model_info"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="RUN or WEBMODEL (default: train a small one)")
    parser.add_argument("--image-size", type=int, default=128, help="for the model trained without --model")
    parser.add_argument("--photo", type=Path, help="photo to time (default: a generated 4000×3000 JPEG)")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--backend", default="wasm", help="wasm, webgl or auto")
    parser.add_argument("--submissions", type=int, default=500)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--out", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="cropstyle-bench-web-") as scratch:
        scratch = Path(scratch)
        started = time.perf_counter()
        model = args.model or build_model(scratch / "model", args.image_size)
        model_seconds = time.perf_counter() - started if args.model is None else 0.0
        photo = args.photo
        if photo is None:
            photo = scratch / "photo.jpg"
            photo.write_bytes(photo_bytes(4000, 3000, seed=7))
        with ServerProcess(scratch / "store", model=model, rate_limit=0) as server:
            latency = browser_latency(server.url, photo, args.runs, args.backend)
        photos = make_photos(args.submissions, seed=9)
        with ServerProcess(scratch / "load-store", rate_limit=0) as server:
            load = run_load(server.url, photos, clients=args.clients)
        figures = {"machine": f"{platform.machine()}, {__import__('os').cpu_count()} cores",
                   "inference": latency,
                   "submissions": {**load.figures(), "clients": args.clients, "photo_bytes_mean":
                                   round(sum(map(len, photos)) / len(photos))},
                   "model_build_seconds": round(model_seconds, 1)}
    print(json.dumps(figures, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
