"""THE way `extract`, `predict` and `apply` read a library: metadata a chunk at a time, pixels decoded in parallel.

`read_library` asks one exiftool process for the tags of a chunk of photos (and of their sidecars) at a time,
describes each photo (extractor/photos.py), asks its caller how to decode it or why not, takes a raw's preview
from exiftool, and hands the decoding to a thread pool (Pillow releases the GIL while decoding), so the disk,
exiftool, the decoders and the caller work at once. It hands back one PhotoRead per item, in the items' order.
At most two chunks are in flight, so memory (raw previews, decoded pixels) stays bounded whatever the library's
size. exiftool is only ever driven from the caller's thread: Ctrl-C interrupts a request there, where a thread
of its own would wait forever on an exiftool the same Ctrl-C has killed.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import Executor, Future, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from cropstyle.extractor.library import LibraryFile
from cropstyle.extractor.metadata import MetadataTool
from cropstyle.extractor.photos import LibraryPhoto, Skipped, pixel_source, read_photo
from cropstyle.extractor.pixels import PixelError

CHUNK = 64  # photos per exiftool request: large enough to amortise it, small enough to keep the decoders busy
FIRST_CHUNK = 8  # the first requests are smaller (8, 16, 32, then CHUNK) so that the decoders start early

Item = TypeVar("Item")
Decoded = TypeVar("Decoded")


@dataclass
class PhotoRead(Generic[Item, Decoded]):
    """One item of the library as read: what its metadata says and its decoded pixels, or why there are none."""

    item: Item
    photo: LibraryPhoto | None = None  # None when its metadata says it is no photo
    source: Path | bytes | None = None  # what was decoded: the file, or a raw's embedded preview
    decoded: Decoded | None = None  # what the caller's decoder made of `source`
    # Why nothing was decoded: starts with one of extractor/skip_reasons.py, or is the caller's own reason.
    skipped: str | None = None
    next_ready: bool = False  # the next PhotoRead is there without waiting: the caller may do its own work first


def _itself(item: Any) -> LibraryFile:
    """`file_of` for items that are LibraryFiles."""
    return item


def read_library(
    items: Sequence[Item],
    tool: MetadataTool,
    decoder_for: Callable[[Item, LibraryPhoto], Callable[[Path | bytes], Decoded] | str],
    decoders: Executor,
    *,
    file_of: Callable[[Item], LibraryFile] = _itself,
    keep_decoded: bool = False,
    chunk: int = CHUNK,
) -> Generator[PhotoRead[Item, Decoded], None, None]:
    """One PhotoRead per item of `items` (LibraryFiles, or the caller's own items with `file_of` giving each one's
    LibraryFile), in the order of `items`.

    `decoder_for(item, photo)` says how to decode a photo's pixels, a function of the file or the raw's preview
    run on `decoders`, or returns why the photo is not to be decoded (then no raw preview is read either).
    A photo that gives nothing is a PhotoRead with `skipped`, never an exception: not a photo (its metadata),
    the caller's reason, a raw without a preview, image data that cannot be decoded (a PixelError's message).

    Stopping: when the caller leaves its loop (or closes the generator), the decodes not yet started are dropped
    and the running ones finish before it returns, so nothing runs on behind the caller. When an exception is
    raised in it (Ctrl-C while it waits for exiftool or a decoder, exiftool gone, a decoder's error other than
    PixelError) or thrown into it (`stop_reading`), it does the same and raises the exception again; with
    `keep_decoded` it first hands back every photo already decoded, for a caller whose decoder does work worth
    keeping (extract's images: Ctrl-C keeps them).
    """
    in_flight: deque[_InFlight] = deque()  # read or being decoded, not yet handed back; in order
    chunks = _chunks(items, chunk)
    try:
        while True:
            # Another request while less than a chunk is in flight: the decoders have work while exiftool answers.
            while len(in_flight) < chunk and (next_chunk := next(chunks, None)) is not None:
                for entry in _read_chunk(next_chunk, tool, decoder_for, decoders, file_of):
                    in_flight.append(entry)  # one at a time: what an interruption leaves is still stopped
            if not in_flight:
                return
            read = in_flight[0].result()
            in_flight.popleft()
            read.next_ready = bool(in_flight) and in_flight[0].ready()
            yield read
    except GeneratorExit:
        _stop(in_flight)
        raise
    except BaseException:
        _stop(in_flight)
        if keep_decoded:
            yield from (entry.result() for entry in in_flight if entry.decoded_or_skipped())
        raise


def stop_reading(reads: Generator[PhotoRead, None, None], error: BaseException) -> Iterator[PhotoRead]:
    """For a caller whose loop over `reads` (read with `keep_decoded`) was interrupted by `error` (Ctrl-C, an error
    of its own): the photos the reader had already decoded, then `error` raised again. When `error` came out of the
    reader itself, the reader has handed them back already, and this raises at once."""
    yield reads.throw(error)
    yield from reads


@dataclass
class _InFlight:
    read: PhotoRead
    decoding: Future | None = None

    def ready(self) -> bool:
        return self.decoding is None or self.decoding.done()

    def decoded_or_skipped(self) -> bool:
        """Whether result() would answer now without raising (a decode that failed otherwise is not a result)."""
        if self.decoding is None:
            return True
        if not self.decoding.done() or self.decoding.cancelled():
            return False
        error = self.decoding.exception()
        return error is None or isinstance(error, PixelError)

    def result(self) -> PhotoRead:
        """The read, once decoded (waits for it); image data that cannot be decoded is a skip."""
        if self.decoding is not None:
            try:
                self.read.decoded = self.decoding.result()
            except PixelError as error:
                self.read.skipped = str(error)
            self.decoding = None
        return self.read


def _chunks(items: Sequence[Item], size: int) -> Iterator[Sequence[Item]]:
    start, step = 0, min(FIRST_CHUNK, size)
    while start < len(items):
        yield items[start : start + step]
        start, step = start + step, min(size, step * 2)


def _read_chunk(
    items: Sequence[Item],
    tool: MetadataTool,
    decoder_for: Callable,
    decoders: Executor,
    file_of: Callable[[Item], LibraryFile],
) -> Iterator[_InFlight]:
    """The items of one exiftool request, each skipped or with its decode started."""
    files = [file_of(item) for item in items]
    tags = tool.read_tags(
        list(
            dict.fromkeys([file.path for file in files] + [file.sidecar for file in files if file.sidecar is not None])
        )
    )
    for item, file in zip(items, files):
        photo = read_photo(file, tags)
        if isinstance(photo, Skipped):
            yield _InFlight(PhotoRead(item, skipped=photo.reason))
            continue
        decode = decoder_for(item, photo)
        if isinstance(decode, str):
            yield _InFlight(PhotoRead(item, photo, skipped=decode))
            continue
        source = pixel_source(tool, photo)
        if isinstance(source, Skipped):
            yield _InFlight(PhotoRead(item, photo, skipped=source.reason))
            continue
        yield _InFlight(PhotoRead(item, photo, source), decoders.submit(decode, source))


def _stop(in_flight: deque[_InFlight]) -> None:
    """Drop the decodes not yet started; wait for the running ones."""
    decodings = [entry.decoding for entry in in_flight if entry.decoding is not None]
    for decoding in decodings:
        decoding.cancel()
    wait(decodings)
