"""The collection server under load, for the web tests and bench/web.py: a real server process, generated
photos, a load run.

Nothing here is a mock: `ServerProcess` runs `cropstyle serve` (uvicorn) on 127.0.0.1 and can be
killed with SIGKILL; `run_load` sends real multipart submissions from concurrent clients over TCP.
"""
from __future__ import annotations

import io
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

PROJECT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class ServerProcess:
    """`cropstyle serve` in its own process on 127.0.0.1 (a free port), stopped or killed at will."""

    def __init__(self, store: Path, model: Path | None = None, token: str | None = None, rate_limit: float = 0,
                 log: Path | None = None, port: int | None = None):
        self.store, self.model, self.token, self.rate_limit = Path(store), model, token, rate_limit
        self.port = port or free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.log = Path(log) if log else self.store.with_name(self.store.name + f".server-{self.port}.log")
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> ServerProcess:
        command = [sys.executable, "-m", "cropstyle", "serve", "--store", str(self.store), "--host", HOST,
                   "--port", str(self.port), "--rate-limit", str(self.rate_limit), "--quiet"]
        if self.model is not None:
            command += ["--model", str(self.model)]
        if self.token:
            command += ["--token", self.token]
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(command, cwd=PROJECT, stdout=log, stderr=subprocess.STDOUT,
                                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the server did not answer within {timeout} s: {self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush, as a power cut would leave the store."""
        if self.process and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def photo_bytes(width: int, height: int, seed: int = 0, orientation: int | None = None, fmt: str = "JPEG") -> bytes:
    """A small photo-like image (gradient and noise, distinct per seed), optionally with an EXIF orientation."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    pixels = np.stack([x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1), (x + y + seed) % 256], axis=-1)
    pixels = np.clip(pixels + rng.integers(0, 24, pixels.shape), 0, 255).astype(np.uint8)
    image = Image.fromarray(pixels)
    buffer = io.BytesIO()
    options = {"quality": 90} if fmt == "JPEG" else {}
    if orientation is not None:
        exif = image.getexif()
        exif[0x0112] = orientation
        options["exif"] = exif.tobytes()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def label(seed: int) -> dict:
    """A valid upright-ish label, different per seed."""
    rng = np.random.default_rng(seed)
    return {"left": float(rng.uniform(0.05, 0.15)), "top": float(rng.uniform(0.05, 0.15)),
            "right": float(rng.uniform(0.85, 0.95)), "bottom": float(rng.uniform(0.85, 0.95)), "angle": 0.0}


def submit(client: httpx.Client, url: str, photo: bytes, crop: dict, predicted: dict | None = None,
           model: str | None = None, filename: str = "photo.jpg", content_type: str = "image/jpeg",
           extra: dict | None = None) -> httpx.Response:
    data = {"crop": json.dumps(crop)}
    if predicted is not None:
        data["predicted"] = json.dumps(predicted)
    if model is not None:
        data["model"] = model
    data.update(extra or {})
    return client.post(f"{url}/api/corrections", files={"photo": (filename, photo, content_type)}, data=data)


@dataclass
class LoadResult:
    sent: int = 0
    acknowledged: dict[str, int] = field(default_factory=dict)  # id → index of the submission
    errors: list[str] = field(default_factory=list)  # answers other than 201 (before any kill)
    failed_after_kill: int = 0  # transport errors once the server was killed
    latencies: list[float] = field(default_factory=list)  # seconds, acknowledged submissions
    seconds: float = 0.0

    def figures(self) -> dict:
        ordered = sorted(self.latencies)
        p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))] if ordered else float("nan")
        return {"submissions": self.sent, "stored": len(self.acknowledged), "errors": len(self.errors),
                "seconds": round(self.seconds, 3),
                "throughput_per_s": round(len(self.acknowledged) / self.seconds, 1) if self.seconds else None,
                "latency_ms_median": round(1000 * statistics.median(ordered), 1) if ordered else None,
                "latency_ms_p95": round(1000 * p95, 1) if ordered else None}


def make_photos(count: int, seed: int = 0, size: tuple[int, int] = (160, 120)) -> list[bytes]:
    return [photo_bytes(*size, seed=seed * 100_000 + i) for i in range(count)]


def run_load(url: str, photos: list[bytes], clients: int = 20, kill_after: int | None = None,
             on_kill=None, timeout: float = 30) -> LoadResult:
    """Submit every photo (with its own label) from `clients` concurrent clients. With `kill_after`, call
    `on_kill()` once that many submissions were acknowledged (the clients keep going and see failures)."""
    result = LoadResult()
    lock = threading.Lock()
    killed = threading.Event()
    next_index = iter(range(len(photos)))

    def client_loop() -> None:
        with httpx.Client(timeout=timeout) as client:
            while True:
                with lock:
                    index = next(next_index, None)
                if index is None:
                    return
                started = time.perf_counter()
                try:
                    response = submit(client, url, photos[index], label(index))
                except httpx.TransportError as error:
                    with lock:
                        result.sent += 1
                        if killed.is_set():
                            result.failed_after_kill += 1
                        else:
                            result.errors.append(f"{index}: {type(error).__name__}: {error}")
                    continue
                elapsed = time.perf_counter() - started
                with lock:
                    result.sent += 1
                    if response.status_code in (200, 201):  # 200: the same correction was stored before
                        result.acknowledged[response.json()["id"]] = index
                        result.latencies.append(elapsed)
                    elif killed.is_set():
                        result.failed_after_kill += 1
                    else:
                        result.errors.append(f"{index}: {response.status_code} {response.text[:200]}")
                    fire = kill_after is not None and not killed.is_set() and len(result.acknowledged) >= kill_after
                    if fire:
                        killed.set()
                if fire and on_kill is not None:
                    on_kill()

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        for future in [pool.submit(client_loop) for _ in range(clients)]:
            future.result()
    result.seconds = time.perf_counter() - started
    return result
