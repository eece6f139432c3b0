"""Benchmark the browser demo and the collection server (issues 6 and 12).

1. In-browser inference latency: Debian's chromium (headless, Playwright) opens the page served by
   `cropstyle serve` and, in the same page, opens three generated JPEGs in turn (640×427, 1920×1280,
   4000×3000); for each it times `--runs` suggestions after 3 warm-up runs on the wasm backend (the whole
   path: the photo drawn at the model's source size, the model's input computed from it, the graph, reading
   the 5 numbers back) against smartcrop.js (npm `smartcrop`) cropping the same photo in the same page,
   interleaved. Medians and their ratio for each size. The page itself loads neither smartcrop.js nor the
   timing hook: the benchmark adds both (web/static/bench.js).
2. Submissions: `--submissions` multipart submissions from `--clients` concurrent clients, each from its
   own loopback address (127.0.0.N), to `--workers` server processes, with a rate limit every client stays
   under (so the buckets in the store are exercised on every request):
   - clean runs on the SQLite store and on PostgreSQL (a throwaway cluster, tests/postgres.py):
     throughput, median and p95 latency, the PostgreSQL/SQLite ratios;
   - fault runs: one worker killed -9 at 25 % of the submissions (both stores) and, on PostgreSQL,
     `pg_ctl restart -m immediate` at 60 %; then every acknowledged submission is checked in the store
     (its row, a photo that decodes) and the same server must take a new batch without error.
3. Memory: one server process, its peak resident memory (VmHWM) after start-up and a few ordinary
   submissions (the baseline), then after 20 concurrent worst-case uploads (RGBA PNGs just under the
   decoded-bytes limit), and the resident memory once they are done; and the probe's 7300×5470 RGBA PNG,
   refused before decoding. Then per format, each on a fresh server process: 10 concurrent uploads of the
   largest photo of that kind the limit accepts (tests/load.py: worst_case_photos; JPEG baseline and
   progressive, PNG, WebP lossless and lossy), its peak resident memory (the target: 300 MB). And the
   probe's progressive JPEG of 10,000 scans: the answer and how long it took.

    .venv/bin/python bench/web.py [--model RUN_OR_WEBMODEL] [--runs 20] [--submissions 2000] [--clients 50]
                                  [--workers 4] [--out FILE.json] [--skip-browser] [--memory-only] [--browser-only]

Without --model, trains the project's default model (training.train's own image size and architecture) for
two epochs on a small synthetic dataset and exports it (a minute or two on 2 cores; the latency does not
depend on what the weights learned).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from PIL import Image  # noqa: E402
from tqdm import tqdm  # noqa: E402

from cropstyle.web import limits  # noqa: E402
from cropstyle.web.store import open_store  # noqa: E402
from tests.load import (  # noqa: E402
    ServerProcess,
    blank_png,
    concurrent_uploads,
    http_client,
    make_photos,
    photo_bytes,
    run_load,
    submit,
    worst_case_photos,
)
from tests.postgres import TemporaryPostgres  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
PHOTO_SIZES = [(640, 427), (1920, 1280), (4000, 3000)]
GOOD = {"left": 0.1, "top": 0.2, "right": 0.9, "bottom": 0.8, "angle": 0.0}


def build_model(root: Path) -> Path:
    """A personal model as train makes it from scratch (three separable models at 96 px, their mean; `--start scratch`,
    since on 64 photos the default would also fine-tune the general model, which the page serves anyway), two epochs
    each, exported."""
    from cropstyle.export.webmodel import export_webmodel
    from cropstyle.samples.dataset import write_dataset
    from cropstyle.training.train import train

    dataset = write_dataset(root / "dataset", 64, seed=0)
    train([dataset], root / "run", epochs=2, batch_size=16, start="scratch", verbose=0)
    export_webmodel(root / "run", root / "run" / "web")
    return root / "run"


def browser_latency(url: str, photos: list[Path], runs: int, backend: str) -> dict:
    """One page, the photos opened one after the other, each timed by web/static/bench.js, which this adds to the
    page with smartcrop.js (the production page loads neither)."""
    from playwright.sync_api import sync_playwright

    results = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 960})
        page.set_default_timeout(300_000)
        page.goto(f"{url}/?backend={backend}")
        page.wait_for_selector("body[data-state=ready]")
        page.add_script_tag(url=f"{url}/vendor/smartcrop/smartcrop.js")
        page.add_script_tag(url=f"{url}/static/bench.js", type="module")
        page.wait_for_function("typeof window.smartcrop === 'object' && typeof window.cropstyle.bench === 'function'")
        model_info = page.text_content("#model-status")
        for photo in tqdm(photos, desc="browser latency", unit="photo"):
            page.evaluate("document.body.dataset.state = 'bench-next'")
            page.set_input_files("#file", str(photo))
            page.wait_for_selector("body[data-state=suggested]")
            result = page.evaluate(f"window.cropstyle.bench({runs}, 3)")
            model_ms, smartcrop_ms = statistics.median(result["model"]), statistics.median(result["smartcrop"])
            results.append(
                {
                    "photo": f"{result['width']}×{result['height']}",
                    "backend": result["backend"],
                    "runs": runs,
                    "model_ms_median": round(model_ms, 2),
                    "model_from_decoded_ms_median": round(statistics.median(result["graphOnly"]), 2),
                    "smartcrop_ms_median": round(smartcrop_ms, 2),
                    "smartcrop_over_model": round(smartcrop_ms / model_ms, 2),
                }
            )
        browser.close()
    return {"model_info": model_info, "sizes": results}


def checked(location, load, extra_ids=()) -> dict:
    """Every acknowledged submission in the store, with a photo that decodes."""
    with open_store(location) as store:
        rows = {row.id: row for row in store.all()}
        acknowledged = set(load.acknowledged) | set(extra_ids)
        lost = acknowledged - set(rows)
        undecodable = 0
        for identifier in acknowledged & set(rows):
            try:
                with Image.open(io.BytesIO(store.photo_bytes(rows[identifier]))) as image:
                    image.load()
            except Exception:
                undecodable += 1
        check = store.check()
    return {
        "acknowledged": len(acknowledged),
        "rows": len(rows),
        "lost": len(lost),
        "undecodable": undecodable,
        "rows_without_photo": len(check.missing_photos),
    }


def load_run(
    location,
    photos: list[bytes],
    clients: int,
    workers: int,
    faults: list,
    description: str,
    postgres: TemporaryPostgres | None = None,
) -> dict:
    rate = max(60.0, 3 * 60 * len(photos) / clients)  # burst (rate / 3) ≥ what each client sends
    with ServerProcess(location, rate_limit=rate, workers=workers) as server:
        actions = []
        for share, action in faults:
            if action == "kill-worker":

                def kill_worker():
                    server.kill_worker()

                actions.append((int(share * len(photos)), kill_worker))
            elif action == "restart-postgresql":
                actions.append((int(share * len(photos)), postgres.restart_immediately))
        warm_up = run_load(server.url, make_photos(clients, seed=98), clients=clients)  # each worker's first requests
        with tqdm(total=len(photos), desc=description, unit="sub", leave=False) as bar:
            load = run_load(
                server.url,
                photos,
                clients=clients,
                faults=actions,
                timeout=60,
                progress=lambda sent: bar.update(sent - bar.n),
            )
        figures = {**load.figures(), "error_samples": load.errors[:5] + warm_up.errors[:5], "faults": load.faults}
        if faults:  # the same server afterwards: a new batch, every client, no error
            time.sleep(2)  # uvicorn replaces the killed worker
            after = run_load(server.url, make_photos(clients * 2, seed=99), clients=clients)
            figures["after_faults"] = {
                "submissions": after.sent,
                "stored": len(after.acknowledged),
                "errors": len(after.errors),
            }
            figures["check"] = checked(location, load, after.acknowledged)
            figures["verified"] = (
                load.errors == []
                and after.errors == []
                and figures["check"]["lost"] == 0
                and figures["check"]["undecodable"] == 0
            )
        else:
            figures["check"] = checked(location, load)
    return figures


def timed_uploads(url: str, photo: bytes, image_format: str, uploads: int) -> tuple[list[int], float]:
    """tests/load.py's concurrent_uploads, and the seconds until the last answer."""
    started = time.perf_counter()
    codes = concurrent_uploads(url, photo, image_format, uploads)
    return codes, time.perf_counter() - started


def memory_per_format(scratch: Path, uploads: int = 10) -> dict:
    """Each kind's worst case accepted, `uploads` at once, on a fresh server process (VmHWM only grows)."""
    figures = {}
    photos = worst_case_photos()
    for number, (kind, (photo, image_format)) in enumerate(tqdm(photos.items(), desc="memory per format")):
        with ServerProcess(scratch / f"memory-format-{number}", rate_limit=0) as server:
            baseline = server.peak_memory_mb()
            codes, seconds = timed_uploads(server.url, photo, image_format, uploads)
            figures[kind] = {
                "photo_bytes": len(photo),
                "answers": {str(c): codes.count(c) for c in set(codes)},
                "seconds": round(seconds, 2),
                "peak_rss_mb_baseline": round(baseline, 1),
                "peak_rss_mb": round(server.peak_memory_mb(), 1),
            }
    return {
        "concurrent_uploads": uploads,
        "target_mb": 300,
        "formats": figures,
        "worst_peak_rss_mb": max(f["peak_rss_mb"] for f in figures.values()),
    }


def ten_thousand_scans(scratch: Path) -> dict:
    """The probe's progressive JPEG of 10,000 scans (here 2048×2048 grey, its last scan repeated): answered in?"""
    buffer = io.BytesIO()
    Image.new("RGB", (2048, 2048), "grey").save(buffer, "JPEG", progressive=True)
    progressive = buffer.getvalue()
    last = progressive[progressive.rindex(b"\xff\xda") : -2]
    photo = progressive[:-2] + last * (10_000 - progressive.count(b"\xff\xda")) + b"\xff\xd9"
    scans = photo.count(b"\xff\xda")  # a scan's data never holds FF DA
    with ServerProcess(scratch / "scans-store", rate_limit=0) as server:
        codes, seconds = timed_uploads(server.url, photo, "JPEG", 1)
    return {
        "photo": f"2048×2048, {scans} scans, {len(photo) // 1024} KB",
        "answer": codes[0],
        "seconds": round(seconds, 2),
    }


def memory(scratch: Path, uploads: int) -> dict:
    side = int((limits.MAX_DECODED_BYTES / 4) ** 0.5)
    worst = blank_png(side, side - 1)
    with ServerProcess(scratch / "memory-store", rate_limit=0) as server, http_client() as client:
        for i in range(5):
            submit(client, server.url, photo_bytes(1024, 768, seed=500 + i), GOOD)
        baseline, resident_before = server.peak_memory_mb(), server.resident_memory_mb()
        bomb = submit(
            client, server.url, blank_png(7300, 5470, rows=8), GOOD, filename="b.png", content_type="image/png"
        )
        codes, seconds = timed_uploads(server.url, worst, "PNG", uploads)
        peak, resident_after = server.peak_memory_mb(), server.resident_memory_mb()
    return {
        "worst_upload": f"{side}×{side - 1} RGBA PNG, {len(worst) // 1024} KB, "
        f"{side * (side - 1) * 4 / 2**20:.0f} MB decoded",
        "concurrent_uploads": uploads,
        "answers": {str(c): codes.count(c) for c in sorted(set(codes))},
        "seconds": round(seconds, 2),
        "peak_rss_mb_baseline": round(baseline, 1),
        "peak_rss_mb_after_uploads": round(peak, 1),
        "peak_over_baseline": round(peak / baseline, 2),
        "target_mb": 300,
        "resident_mb_before": round(resident_before, 1),
        "resident_mb_after": round(resident_after, 1),
        "probe_7300x5470_rgba": f"{bomb.status_code} {bomb.json().get('error', '')[:90]}",
        "per_format": memory_per_format(scratch),
        "jpeg_10000_scans": ten_thousand_scans(scratch),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="RUN or WEBMODEL (default: train the default model briefly)")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--backend", default="wasm", help="wasm, webgl or auto")
    parser.add_argument("--submissions", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--memory-uploads", type=int, default=20)
    parser.add_argument("--skip-browser", action="store_true", help="only the server's figures")
    parser.add_argument("--memory-only", action="store_true", help="only the memory figures (3.)")
    parser.add_argument("--browser-only", action="store_true", help="only the in-browser latency (1.)")
    parser.add_argument("--out", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()

    figures: dict = {"machine": f"{platform.machine()}, {os.cpu_count()} cores"}
    with tempfile.TemporaryDirectory(prefix="cropstyle-bench-web-") as scratch:
        scratch = Path(scratch)
        if not (args.skip_browser or args.memory_only):
            started = time.perf_counter()
            model = args.model or build_model(scratch / "model")
            figures["model_build_seconds"] = round(time.perf_counter() - started, 1) if args.model is None else 0.0
            photos = []
            for width, height in PHOTO_SIZES:
                path = scratch / f"photo-{width}x{height}.jpg"
                path.write_bytes(photo_bytes(width, height, seed=7))
                photos.append(path)
            with ServerProcess(scratch / "page-store", model=model, rate_limit=0) as server:
                figures["inference"] = browser_latency(server.url, photos, args.runs, args.backend)

        if not (args.memory_only or args.browser_only):
            photos = make_photos(args.submissions, seed=9)
            runs: dict = {}
            with TemporaryPostgres() as postgres:
                stores = {"sqlite": lambda name: scratch / name, "postgresql": lambda name: postgres.database(name)}
                for kind, location in stores.items():
                    runs[f"{kind}_clean"] = load_run(
                        location(f"{kind}_clean"), photos, args.clients, args.workers, [], f"{kind}, clean"
                    )
                runs["sqlite_kill_worker"] = load_run(
                    stores["sqlite"]("sqlite_faults"),
                    photos,
                    args.clients,
                    args.workers,
                    [(0.25, "kill-worker")],
                    "sqlite, kill -9 a worker",
                )
                runs["postgresql_kill_worker_and_restart"] = load_run(
                    stores["postgresql"]("postgresql_faults"),
                    photos,
                    args.clients,
                    args.workers,
                    [(0.25, "kill-worker"), (0.6, "restart-postgresql")],
                    "postgresql, kill -9 a worker, restart",
                    postgres,
                )
            sqlite, pg = runs["sqlite_clean"], runs["postgresql_clean"]
            figures["submissions"] = {
                "submissions": args.submissions,
                "clients": args.clients,
                "workers": args.workers,
                "photo_bytes_mean": round(sum(map(len, photos)) / len(photos)),
                "runs": runs,
                "postgresql_over_sqlite": {
                    "throughput": round(pg["throughput_per_s"] / sqlite["throughput_per_s"], 2),
                    "latency_p95": round(pg["latency_ms_p95"] / sqlite["latency_ms_p95"], 2),
                },
            }
        if not args.browser_only:
            figures["memory"] = memory(scratch, args.memory_uploads)

    print(json.dumps(figures, indent=2, ensure_ascii=False))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(figures, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
