"""Turn a photo, or a raw's embedded preview, into a training image: the photo as displayed, small."""

from __future__ import annotations

import hashlib
import io
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import pillow_heif
from PIL import Image

from cropstyle.extractor import skip_reasons
from cropstyle.extractor.geometry import inverse_orientation

pillow_heif.register_heif_opener()  # HEIC/HEIF photos decode through Pillow like the rest

# A declared size above this is refused before decoding (Pillow raises at twice it; we make the warning an error too).
MAX_PIXELS = 250_000_000
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
JPEG_QUALITY = 90

# EXIF orientation → the Pillow operation that displays the stored pixels (as ImageOps.exif_transpose).
ORIENTATION_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# EXIF orientation → the Pillow operation that undoes it: the stored pixels from the displayed ones.
STORED_TRANSPOSE = {
    orientation: ORIENTATION_TRANSPOSE.get(inverse_orientation(orientation)) for orientation in range(1, 9)
}


class PixelError(Exception):
    """The image data cannot be decoded; the message is the skip reason."""


@dataclass(frozen=True)
class TrainingImage:
    name: str  # file name under DATASET/images, the hash of its content
    stored_size: tuple[int, int]  # the decoded source's size before orientation


def draft_request(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    """The size to ask of Pillow's draft mode (JPEG decodes at 1/2, 1/4 or 1/8 scale directly) so that the
    long side still reaches `max_side`: asking (max_side, max_side) would decode a 3:2 photo at twice the scale."""
    scale = max_side / max(size)
    return max(1, math.ceil(size[0] * scale)), max(1, math.ceil(size[1] * scale))


def open_displayed(
    source: Path | bytes, orientation: int, max_side: int | None = None
) -> tuple[Image.Image, tuple[int, int]]:
    """Decode `source` as RGB with `orientation` applied; with `max_side`, decode small (JPEG draft mode)
    and shrink so the long side is at most `max_side`. Returns the image and the stored size."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as image:
                stored_size = image.size
                if max_side is not None:
                    image.draft("RGB", draft_request(image.size, max_side))
                rgb = image.convert("RGB")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PixelError(f"{skip_reasons.CORRUPT}: declared size is beyond {MAX_PIXELS:,} pixels") from None
    except Image.UnidentifiedImageError:
        raise PixelError(f"{skip_reasons.CORRUPT}: Pillow cannot identify the image data") from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise PixelError(f"{skip_reasons.CORRUPT}: {error}") from None
    if orientation in ORIENTATION_TRANSPOSE:
        rgb = rgb.transpose(ORIENTATION_TRANSPOSE[orientation])
    if max_side is not None and max(rgb.size) > max_side:
        scale = max_side / max(rgb.size)
        rgb = rgb.resize(
            (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale))),
            Image.Resampling.BICUBIC,
            reducing_gap=2.0,
        )
    return rgb, stored_size


def render_training_image(source: Path | bytes, orientation: int, size: int, images_dir: Path) -> TrainingImage:
    """Write the displayed photo, long side at most `size`, as `images_dir/<content hash>.jpg`.

    Named by content, so re-runs and duplicate files share one image; written to a temporary name and
    renamed, so an interrupted run never leaves a half-written image under a real name.
    """
    image, stored_size = open_displayed(source, orientation, max_side=size)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=JPEG_QUALITY)
    data = buffer.getvalue()
    name = hashlib.sha256(data).hexdigest()[:24] + ".jpg"
    target = images_dir / name
    if not target.exists():
        temporary = images_dir / f".{name}.{os.getpid()}.{id(data)}.tmp"
        temporary.write_bytes(data)
        os.replace(temporary, target)
    return TrainingImage(name, stored_size)
