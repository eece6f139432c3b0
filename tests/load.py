"""The collection server under load, for the web tests and bench/web.py: a real server process, generated
photos, a load run.

Nothing here is a mock: `ServerProcess` runs `cropstyle serve` (uvicorn, one or more worker processes) on
127.0.0.1 and can be killed with SIGKILL, whole or one worker; `run_load` sends real multipart submissions
from concurrent clients over TCP, each client from its own loopback address (127.0.0.N: the server's
per-client rate limit keys on the connection's address), and can inject faults mid-load.
"""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

PROJECT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
MAX_CLIENTS = 253  # 127.0.0.2 … 127.0.0.254


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def client_address(index: int) -> str:
    """The loopback address of load client `index` (0-based): 127.0.0.2, 127.0.0.3, …"""
    if not 0 <= index < MAX_CLIENTS:
        raise ValueError(f"at most {MAX_CLIENTS} clients, each with its own loopback address")
    return f"127.0.0.{index + 2}"


def http_client(address: str | None = None, timeout: float = 30) -> httpx.Client:
    """An HTTP client whose connections leave from `address` (a loopback address), or the default one."""
    transport = httpx.HTTPTransport(local_address=address) if address else None
    return httpx.Client(timeout=timeout, transport=transport)


DEFAULT_MODEL = "serve's default"  # ServerProcess(model=DEFAULT_MODEL): no --model argument at all


class ServerProcess:
    """`cropstyle serve` in its own process group on 127.0.0.1 (a free port), stopped or killed at will.
    `store`: a folder or a postgresql:// URL; `options`: more `serve` arguments; `program`, `cwd`, `env`: which
    cropstyle runs, where, with what environment (by default this checkout's, from its root)."""

    def __init__(
        self,
        store: Path | str,
        model: Path | str | None = None,
        token: str | None = None,
        rate_limit: float = 0,
        workers: int = 1,
        options: list[str] | tuple[str, ...] = (),
        log: Path | None = None,
        port: int | None = None,
        program: tuple[str, ...] = (sys.executable, "-m", "cropstyle"),
        cwd: Path = PROJECT,
        env: dict[str, str] | None = None,
    ):
        self.store = store if str(store).startswith(("postgresql://", "postgres://")) else Path(store)
        self.model, self.token, self.rate_limit, self.workers = model, token, rate_limit, workers
        self.options = list(options)
        self.program, self.cwd, self.env = program, cwd, os.environ if env is None else env
        self.port = port or free_port()
        self.url = f"http://{HOST}:{self.port}"
        if log is None:
            log = (
                self.store.with_name(self.store.name + f".server-{self.port}.log")
                if isinstance(self.store, Path)
                else Path(tempfile.gettempdir()) / f"cropstyle-server-{self.port}.log"
            )
        self.log = Path(log)
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> ServerProcess:
        command = [
            *self.program,
            "serve",
            "--store",
            str(self.store),
            "--host",
            HOST,
            "--port",
            str(self.port),
            "--rate-limit",
            str(self.rate_limit),
            "--quiet",
            *self.options,
        ]
        if self.workers != 1:
            command += ["--workers", str(self.workers)]
        if self.model is not DEFAULT_MODEL:  # None: started without a model
            command += ["--model", str(self.model) if self.model is not None else "none"]
        if self.token:
            command += ["--token", self.token]
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                command,
                cwd=self.cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**self.env, "PYTHONUNBUFFERED": "1"},
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}: {self.log.read_text()[-2000:]}")
            try:
                # 421: it runs, but answers only the names given with --allowed-host
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code in (200, 421) and (
                    self.workers == 1 or len(self.worker_pids()) == self.workers
                ):
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the server did not answer within {timeout} s: {self.log.read_text()[-2000:]}")

    def worker_pids(self) -> list[int]:
        """The processes that serve requests: the server itself with one worker, else its worker children."""
        if self.process is None or self.process.poll() is not None:
            return []
        if self.workers == 1:
            return [self.process.pid]
        children = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                    if (
                        int(stat.rsplit(")", 1)[1].split()[1]) == self.process.pid
                        and b"spawn_main" in (entry / "cmdline").read_bytes()
                    ):
                        children.append(int(entry.name))
                except (OSError, ValueError, IndexError):
                    continue
        return sorted(children)

    def kill_worker(self) -> tuple[int, bytes]:
        """SIGKILL a worker in the middle of a submission (the others go on serving, uvicorn starts a new one).

        Whether a worker picked at random has a request in flight is chance, so this one holds its own: it sends
        a submission's headers and the start of its body, finds the worker that accepted the connection (the
        socket's inode in /proc/net/tcp, among the workers' descriptors), kills that one, and reads what the cut
        connection says. Returns (pid, what the server sent back on it: b"" when it was cut without an answer)."""
        held = socket.create_connection((HOST, self.port), timeout=10)
        try:
            body = b'--cut\r\nContent-Disposition: form-data; name="crop"\r\n\r\n'
            held.sendall(
                b"POST /api/corrections HTTP/1.1\r\nHost: "
                + f"{HOST}:{self.port}".encode()
                + b"\r\nContent-Type: multipart/form-data; boundary=cut\r\nContent-Length: 100000\r\n\r\n"
                + body
            )
            pid = self._worker_holding(held)
            os.kill(pid, signal.SIGKILL)
            answer = b""
            try:
                while chunk := held.recv(65536):
                    answer += chunk
            except ConnectionResetError:
                pass
            return pid, answer
        finally:
            held.close()

    def _worker_holding(self, connection: socket.socket, timeout: float = 10) -> int:
        """The worker whose descriptors include the server's end of `connection` (once a worker accepted it)."""

        def port_hex(port: int) -> str:
            return f"{port:04X}"

        client_port = connection.getsockname()[1]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            inode = None
            for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
                fields = line.split()
                if (
                    fields[1].endswith(":" + port_hex(self.port))
                    and fields[2].endswith(":" + port_hex(client_port))
                    and fields[9] != "0"
                ):
                    inode = fields[9]
            if inode is not None:
                for pid in self.worker_pids():
                    try:
                        links = [os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()]
                    except OSError:
                        continue
                    if f"socket:[{inode}]" in links:
                        return pid
            time.sleep(0.02)
        raise RuntimeError(f"no worker accepted the connection from port {client_port} within {timeout} s")

    def _memory_mb(self, field: str) -> float:
        values = []
        for pid in self.worker_pids():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith(field + ":"):
                    values.append(int(line.split()[1]) / 1024)
        return max(values)

    def peak_memory_mb(self) -> float:
        """The largest peak resident size (VmHWM) among the serving processes, in MB."""
        return self._memory_mb("VmHWM")

    def resident_memory_mb(self) -> float:
        """The largest resident size now (VmRSS) among the serving processes, in MB."""
        return self._memory_mb("VmRSS")

    def kill(self) -> None:
        """SIGKILL to the whole process group: no shutdown, no flush, as a power cut would leave the store."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        if self.process:
            try:  # workers left behind by a supervisor that did not stop them
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

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


def blank_png(width: int, height: int, rows: int | None = None) -> bytes:
    """A valid 8-bit RGBA PNG of zero pixels: a few KB on the wire, width × height × 4 bytes decoded (the
    worst case for a decoder's memory). With `rows`, only that many rows of data: a declared size the data
    does not fill (a decompression bomb's header)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    compressor = zlib.compressobj(9)
    line = b"\x00" * (1 + width * 4)
    data = b"".join(compressor.compress(line) for _ in range(height if rows is None else rows)) + compressor.flush()
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0))
        + chunk(b"IDAT", data)
        + chunk(b"IEND", b"")
    )


def label(seed: int) -> dict:
    """A valid upright-ish label, different per seed."""
    rng = np.random.default_rng(seed)
    return {
        "left": float(rng.uniform(0.05, 0.15)),
        "top": float(rng.uniform(0.05, 0.15)),
        "right": float(rng.uniform(0.85, 0.95)),
        "bottom": float(rng.uniform(0.85, 0.95)),
        "angle": 0.0,
    }


def submit(
    client: httpx.Client,
    url: str,
    photo: bytes,
    crop: dict,
    predicted: dict | None = None,
    model: str | None = None,
    filename: str = "photo.jpg",
    content_type: str = "image/jpeg",
    extra: dict | None = None,
) -> httpx.Response:
    data = {"crop": json.dumps(crop)}
    if predicted is not None:
        data["predicted"] = json.dumps(predicted)
    if model is not None:
        data["model"] = model
    data.update(extra or {})
    return client.post(f"{url}/api/corrections", files={"photo": (filename, photo, content_type)}, data=data)


UPLOAD_MEDIA = {
    "JPEG": ("photo.jpg", "image/jpeg"),
    "PNG": ("photo.png", "image/png"),
    "WEBP": ("photo.webp", "image/webp"),
}


def concurrent_uploads(url: str, photo: bytes, image_format: str, uploads: int) -> list[int]:
    """`uploads` submissions of `photo` at once, each on its own connection with its own label (so each is a new
    row): their status codes, in the uploads' order."""
    filename, content_type = UPLOAD_MEDIA[image_format]

    def upload(i: int) -> int:
        crop = {"left": 0.1 + i / 1000, "top": 0.2, "right": 0.9, "bottom": 0.8, "angle": 0.0}
        with http_client(timeout=120) as own:
            return submit(own, url, photo, crop, filename=filename, content_type=content_type).status_code

    with ThreadPoolExecutor(uploads) as pool:
        return list(pool.map(upload, range(uploads)))


@dataclass
class LoadResult:
    sent: int = 0
    acknowledged: dict[str, int] = field(default_factory=dict)  # id → index of the submission (200 or 201)
    errors: list[str] = field(default_factory=list)  # answers that must not happen (see run_load)
    failed_during_faults: Counter = field(default_factory=Counter)  # "503", "TransportError", … once a fault began
    latencies: list[float] = field(default_factory=list)  # seconds, acknowledged submissions
    seconds: float = 0.0
    faults: list[str] = field(default_factory=list)  # what was done, in order, with the acknowledged count
    fault_done_at: list[int] = field(default_factory=list)  # acknowledged submissions when each fault was done

    def figures(self) -> dict:
        ordered = sorted(self.latencies)
        p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))] if ordered else float("nan")
        return {
            "submissions": self.sent,
            "stored": len(self.acknowledged),
            "errors": len(self.errors),
            "failed_during_faults": dict(self.failed_during_faults),
            "seconds": round(self.seconds, 3),
            "throughput_per_s": round(len(self.acknowledged) / self.seconds, 1) if self.seconds else None,
            "latency_ms_median": round(1000 * statistics.median(ordered), 1) if ordered else None,
            "latency_ms_p95": round(1000 * p95, 1) if ordered else None,
        }


def make_photos(count: int, seed: int = 0, size: tuple[int, int] = (160, 120)) -> list[bytes]:
    return [photo_bytes(*size, seed=seed * 100_000 + i) for i in range(count)]


def run_load(
    url: str,
    photos: list[bytes],
    clients: int = 20,
    faults: list[tuple[int, Callable[[], object]]] = (),
    timeout: float = 30,
    progress: Callable[[int], None] | None = None,
) -> LoadResult:
    """Submit every photo (each with its own label) from `clients` concurrent clients, client i from
    127.0.0.(i + 2). `faults`: (acknowledged count, action) pairs; each action runs in its own thread once
    that many submissions were acknowledged, while the clients go on.

    Every submission must be acknowledged (200 or 201), except, once the first fault has begun, those
    answered 5xx or cut off (counted in failed_during_faults). Anything else is an error: a 4xx at any
    time, a 5xx or a transport error before any fault."""
    result = LoadResult()
    lock = threading.Lock()
    faulted = threading.Event()
    pending = sorted(faults, key=lambda fault: fault[0])
    fault_threads: list[threading.Thread] = []
    next_index = iter(range(len(photos)))

    def fire(action: Callable[[], object], description: str) -> None:
        try:
            action()
        except Exception as error:  # a fault that could not be made is an error of the run
            with lock:
                result.errors.append(f"{description}: {type(error).__name__}: {error}")
            return
        with lock:
            result.fault_done_at.append(len(result.acknowledged))
            result.faults.append(description + f", done at {len(result.acknowledged)} acknowledged")

    def client_loop(number: int) -> None:
        with http_client(client_address(number), timeout) as client:
            while True:
                with lock:
                    index = next(next_index, None)
                if index is None:
                    return
                started = time.perf_counter()
                try:
                    response = submit(client, url, photos[index], label(index))
                    failure = None if response.status_code in (200, 201) else str(response.status_code)
                except httpx.TransportError as error:
                    response, failure = None, type(error).__name__
                elapsed = time.perf_counter() - started
                with lock:
                    result.sent += 1
                    if failure is None:
                        result.acknowledged[response.json()["id"]] = index
                        result.latencies.append(elapsed)
                    elif faulted.is_set() and (response is None or response.status_code >= 500):
                        result.failed_during_faults[failure] += 1
                    else:
                        detail = response.text[:200] if response is not None else ""
                        result.errors.append(f"{index}: {failure} {detail}")
                    due = []
                    while pending and len(result.acknowledged) >= pending[0][0]:
                        due.append(pending.pop(0))
                    if due:
                        faulted.set()
                    if progress is not None:
                        progress(result.sent)
                for threshold, action in due:
                    description = f"{getattr(action, '__name__', 'fault')} at {threshold} acknowledged"
                    thread = threading.Thread(target=fire, args=(action, description))
                    thread.start()
                    fault_threads.append(thread)

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        for future in [pool.submit(client_loop, number) for number in range(clients)]:
            future.result()
    for thread in fault_threads:
        thread.join()
    result.seconds = time.perf_counter() - started
    return result


# The kinds of photo the server accepts, for the worst cases of each (name → format, Pillow mode, save options).
WORST_CASE_KINDS = {
    "baseline JPEG RGB": ("JPEG", "RGB", {}),
    "progressive JPEG RGB 4:2:0": ("JPEG", "RGB", {"progressive": True}),
    "progressive JPEG RGB 4:4:4": ("JPEG", "RGB", {"progressive": True, "subsampling": 0}),
    "progressive JPEG grey": ("JPEG", "L", {"progressive": True}),
    "progressive JPEG CMYK": ("JPEG", "CMYK", {"progressive": True}),
    "PNG RGBA": ("PNG", "RGBA", {}),
    "PNG grey+alpha": ("PNG", "LA", {}),
    "PNG grey": ("PNG", "L", {}),
    "lossless WebP RGBA": ("WEBP", "RGBA", {"lossless": True}),
    "lossy WebP RGB": ("WEBP", "RGB", {}),
}


def worst_case_photos(kinds: dict = WORST_CASE_KINDS) -> dict[str, tuple[bytes, str]]:
    """For each kind, the largest square photo (sides of 16 px) whose decoding the server's decoded-bytes limit
    accepts, as (bytes, format): plain grey, since what a decoder allocates depends on the pixels' number, not on
    what they show. The side is guessed from a small one's cost, then lowered until the server's own estimate
    (web/uploads.py: preflight) fits."""
    from cropstyle.web.limits import MAX_DECODED_BYTES
    from cropstyle.web.uploads import preflight

    def encoded(image_format: str, mode: str, options: dict, side: int) -> bytes:
        buffer = io.BytesIO()
        Image.new(mode, (side, side), 128 if mode in ("L", "LA") else "grey").save(buffer, image_format, **options)
        return buffer.getvalue()

    photos = {}
    for name, (image_format, mode, options) in kinds.items():
        per_pixel = preflight(encoded(image_format, mode, options, 256)).decoding_bytes / 256**2
        side = int((MAX_DECODED_BYTES / per_pixel) ** 0.5) // 16 * 16
        while preflight(data := encoded(image_format, mode, options, side)).decoding_bytes > MAX_DECODED_BYTES:
            side -= 16
        photos[f"{name} {side}×{side}"] = (data, image_format)
    return photos
