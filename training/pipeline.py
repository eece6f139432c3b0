"""From labels.csv to tf.data: read the examples, split them by photo, decode, augment, batch.

The model's input is described once, in PREPROCESSING below: `preprocessing()` fills in a RUN's sizes and
train writes the result into RUN/config.json; the export copies it verbatim into WEBMODEL/metadata.json, where
the page reads and checks it. `model_input` is its one Python implementation (training and predict).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import tensorflow as tf

from cropstyle.extractor.dataset import REQUIRED_COLUMNS
from cropstyle.extractor.geometry import LABEL_VALUES, Crop, crop_problem
from cropstyle.training import crop_tf

PREPROCESSING = {
    "orientation": "apply the EXIF orientation first: the model sees the photo as displayed",
    "decode": {
        "long_side": "source_long_side",
        "resample": "bicubic",
        "reducing_gap": 2,
        "enlarge": False,
        "why": "downscaling straight to image_size without antialiasing would alias; in a browser, draw the "
        "photo onto a canvas of that size",
    },
    "resize": {
        "method": "bilinear",
        "keep_aspect_ratio": False,
        "half_pixel_centers": True,
        "align_corners": False,
        "antialias": False,
    },
    "channel_order": "RGB",
    "layout": "NHWC",
    "dtype": "float32",
    "scale": 1 / 255,
    "value_range": [0, 1],
    "inputs": {
        "image": "float32 [image_size, image_size, 3], RGB in [0, 1]",
        "aspect": "float32 [1], displayed width / height of the whole photo (after orientation, before any resize): "
        "the stretched pixels no longer show it",
    },
    "steps": [
        "the photo as displayed (EXIF orientation applied), its long side brought down to source_long_side as the "
        "extractor does (extractor/pixels.py: Pillow bicubic, reducing_gap=2), never enlarged",
        "decode it to RGB",
        "resize to image_size x image_size ignoring the aspect ratio: bilinear, half-pixel centres, no antialias "
        "(tf.image.resize(method='bilinear', antialias=False); TF.js tf.image.resizeBilinear(img, [s, s], false, "
        "true); web/static/model_input.js)",
        "cast to float32 and multiply by scale (1/255)",
    ],
    "outputs": "float32 [5]: left, top, right, bottom (fractions of the displayed frame, Lightroom corner "
    "convention) and angle (degrees, clockwise), see extractor/geometry.py",
}


def preprocessing(image_size: int, source_long_side: int) -> dict:
    """PREPROCESSING for a model of `image_size` trained on images whose long side was `source_long_side`."""
    return {
        **PREPROCESSING,
        "image_size": int(image_size),
        "source_long_side": int(source_long_side),
        "decode": {**PREPROCESSING["decode"], "long_side": int(source_long_side)},
    }


def model_input(pixels: tf.Tensor, image_size: int) -> tf.Tensor:
    """Decoded RGB pixels [H, W, 3] uint8 (the photo already at source_long_side) → the model's image input
    [S, S, 3] float32 (PREPROCESSING's resize and scale)."""
    resized = tf.image.resize(pixels, [image_size, image_size], method="bilinear", antialias=False)
    return resized / 255.0  # PREPROCESSING["scale"]


@dataclass(frozen=True)
class Examples:
    """Examples as arrays, one row each: image paths, displayed aspect ratios, crop labels [n, 5]."""

    paths: np.ndarray
    aspects: np.ndarray
    labels: np.ndarray
    frame: pd.DataFrame  # the labels.csv rows, with an absolute `path` column

    def __len__(self) -> int:
        return len(self.paths)

    def subset(self, mask: np.ndarray) -> "Examples":
        return Examples(
            self.paths[mask], self.aspects[mask], self.labels[mask], self.frame[mask].reset_index(drop=True)
        )


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def read_examples(datasets: list[Path]) -> Examples:
    """All usable rows of the datasets' labels.csv files (rows whose crop is invalid are left out)."""
    frames = []
    for dataset in datasets:
        frame = pd.read_csv(Path(dataset) / "labels.csv", dtype={"source": str, "image": str})
        missing = set(REQUIRED_COLUMNS) - set(frame.columns)
        if missing:
            raise ValueError(f"{dataset}/labels.csv lacks columns {sorted(missing)}")
        frame["path"] = [str((Path(dataset) / image).resolve()) for image in frame["image"]]
        frames.append(frame)
    frame = pd.concat(frames, ignore_index=True)
    if frame.empty:
        raise ValueError("the datasets hold no examples")
    valid = [
        crop_problem(Crop(*row), w, h) is None
        for row, w, h in zip(frame[list(LABEL_VALUES)].to_numpy(float), frame["width"], frame["height"])
    ]
    frame = frame[np.array(valid, dtype=bool)].reset_index(drop=True)
    return Examples(
        paths=frame["path"].to_numpy(str),
        aspects=(frame["width"] / frame["height"]).to_numpy(np.float32),
        labels=frame[list(LABEL_VALUES)].to_numpy(np.float32),
        frame=frame,
    )


def photo_groups(frame: pd.DataFrame) -> np.ndarray:
    """A group number per row: rows that share a source photo or an image file (same content hash, the
    extractor's file name) are one group, transitively, so virtual copies and duplicates stay together."""
    parent = list(range(len(frame)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for key in (frame["source"].astype(str), frame["image"].map(lambda image: Path(image).stem)):
        first: dict[str, int] = {}
        for row, value in enumerate(key):
            parent[find(row)] = find(first.setdefault(value, row))
    return np.array([find(i) for i in range(len(frame))])


def split(examples: Examples, val_split: float, seed: int) -> tuple[Examples, Examples]:
    """Train and validation examples, split by photo group (see photo_groups), repeatable for a seed."""
    groups = photo_groups(examples.frame)
    # Order groups by a hash of their first image name and the seed, not by row order, so adding a dataset
    # does not reshuffle the others' split.
    keys = {}
    for row, group in enumerate(groups):
        keys.setdefault(group, hashlib.sha256(f"{seed}:{Path(examples.frame['image'][row]).stem}".encode()).hexdigest())
    order = sorted(keys, key=keys.get)
    n_val = int(round(val_split * len(examples)))
    val_groups, count = set(), 0
    for group in order:
        if count >= n_val:
            break
        val_groups.add(group)
        count += int((groups == group).sum())
    is_val = np.isin(groups, list(val_groups))
    if val_split > 0 and (is_val.all() or not is_val.any()):
        raise ValueError(f"cannot split {len(examples)} examples ({len(order)} photos) with --val-split {val_split}")
    return examples.subset(~is_val), examples.subset(is_val)


def load_image(path: tf.Tensor, image_size: int) -> tf.Tensor:
    """One photo → the model's image input (PREPROCESSING)."""
    return model_input(tf.io.decode_jpeg(tf.io.read_file(path), channels=3), image_size)


# Zoom: with probability ZOOM_PROBABILITY a photo is replaced by a window of it, ZOOM_SMALLEST–1 of its width and
# height (the same fraction of both, so the aspect ratio is unchanged), placed at random but always holding the
# whole crop, so that the subject moves about the frame while the label stays a crop of what is shown.
ZOOM_PROBABILITY = 0.5
ZOOM_SMALLEST = 0.75


def zoom_windows(
    labels: tf.Tensor, aspects: tf.Tensor, seed: tf.Tensor
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]:
    """Crops [B, 5] in frames aspects [B] wide → random windows (x0, y0 [B], fractions of the frame; side f [B],
    1 where not zoomed) that hold each crop whole, and the crops in their windows (crop_tf: exact). A photo
    left uncropped has only the full frame as such a window."""
    seeds = tf.random.experimental.stateless_split(seed, 4)
    n = tf.shape(labels)[0]
    x_lo, y_lo, x_hi, y_hi = crop_tf.bounding_box(labels, aspects)
    smallest = tf.maximum(ZOOM_SMALLEST, tf.maximum(x_hi - x_lo, y_hi - y_lo))
    side = smallest + tf.random.stateless_uniform([n], seeds[0]) * (1.0 - smallest)
    side = tf.where(tf.random.stateless_uniform([n], seeds[1]) < ZOOM_PROBABILITY, side, tf.ones_like(side))

    def start(lo, hi, key):  # the window [start, start + side] holds [lo, hi] and lies inside [0, 1]
        first = tf.maximum(0.0, hi - side)
        last = tf.maximum(tf.minimum(lo, 1.0 - side), first)
        return first + tf.random.stateless_uniform([n], key) * (last - first)

    x0, y0 = start(x_lo, x_hi, seeds[2]), start(y_lo, y_hi, seeds[3])
    return x0, y0, side, crop_tf.in_window(labels, aspects, x0, y0, side)


def zoomed(images: tf.Tensor, x0: tf.Tensor, y0: tf.Tensor, side: tf.Tensor) -> tf.Tensor:
    """Images [B, S, S, 3] → each one's window (zoom_windows) resized back to S×S, sampled as tf.image.resize does
    (bilinear, half-pixel centres, edges clamped): a window of the whole image gives the image unchanged. Taken
    from the cached S×S input rather than the photo, a zoomed photo is a little softer (up to 1.33× enlarged),
    which keeps the cache as small as before."""
    size = images.shape[1]
    padded = tf.pad(images, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="SYMMETRIC")  # clamps samples past the edge

    def span(start):  # crop_and_resize samples start·(S+1) + i·step pixels of the padded image, i = 0 … S−1
        first = (start * size + 0.5 * side - 0.5 + 1.0) / (size + 1)
        return first, first + side * (size - 1) / (size + 1)

    (top, bottom), (left, right) = span(y0), span(x0)
    boxes = tf.stack([top, left, bottom, right], axis=-1)
    return tf.image.crop_and_resize(padded, boxes, tf.range(tf.shape(images)[0]), [size, size], method="bilinear")


def augment(images: tf.Tensor, aspects: tf.Tensor, labels: tf.Tensor, seed: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """A batch [B, S, S, 3], its aspect ratios [B, 1] and labels [B, 5] → augmented images and labels.

    Half the photos are zoomed into a random window that holds the whole crop (zoom_windows, label moved exactly),
    so the model sees the subject all over the frame rather than where a few hundred photos happen to put it.
    Each photo is flipped left-right at random with its label mirrored (crop_tf.flip_horizontal: centre
    mirrored, angle negated), and gets mild photometric jitter that leaves the label alone: brightness
    ±0.08, contrast ×0.85–1.15 about the photo's mean, saturation ×0.85–1.15 about its luma. Nothing here
    moves pixels without moving the label. `seed` is a [2] stateless seed for this batch. Working on
    whole batches keeps the pipeline cheap beside the model on a small CPU.
    """
    seeds = tf.random.experimental.stateless_split(seed, 5)
    n = tf.shape(images)[0]
    x0, y0, side, labels = zoom_windows(labels, aspects[:, 0], seeds[4])
    images = zoomed(images, x0, y0, side)
    flip = tf.random.stateless_uniform([n], seeds[0]) < 0.5
    images = tf.where(flip[:, None, None, None], tf.reverse(images, axis=[2]), images)
    labels = tf.where(flip[:, None], crop_tf.flip_horizontal(labels, aspects[:, 0]), labels)
    brightness = tf.random.stateless_uniform([n, 1, 1, 1], seeds[1], -0.08, 0.08)
    contrast = tf.random.stateless_uniform([n, 1, 1, 1], seeds[2], 0.85, 1.15)
    saturation = tf.random.stateless_uniform([n, 1, 1, 1], seeds[3], 0.85, 1.15)
    mean = tf.reduce_mean(images, axis=[1, 2, 3], keepdims=True)
    images = (images - mean) * contrast + mean + brightness
    luma = tf.reduce_sum(images * tf.constant([0.299, 0.587, 0.114]), axis=-1, keepdims=True)
    images = luma + (images - luma) * saturation
    return tf.clip_by_value(images, 0.0, 1.0), labels


def _augmented(batch: tuple[tf.Tensor, tf.Tensor, tf.Tensor], seed: tf.Tensor):
    images, aspects, labels = batch
    images, labels = augment(images, aspects, labels, seed)
    return images, aspects, labels


def make_dataset(
    examples: Examples, image_size: int, batch_size: int, *, training: bool, seed: int = 0, cache: bool = True
) -> tf.data.Dataset:
    """({"image", "aspect"}, label) batches: decoded and resized once (cached), then, when `training`,
    shuffled, repeated without end in full batches and augmented anew, a batch at a time, in parallel;
    otherwise every photo once, in order. Prefetched."""
    data = tf.data.Dataset.from_tensor_slices((examples.paths, examples.aspects[:, None], examples.labels))
    data = data.map(
        lambda path, aspect, label: (load_image(path, image_size), aspect, label), num_parallel_calls=tf.data.AUTOTUNE
    )
    if cache:
        data = data.cache()
    if training:
        # Endless and in full batches: each pass over the photos is shuffled anew and batches run on across
        # passes, so every batch holds batch_size photos (none is short, none is dropped for good); the
        # caller says how many batches make an epoch.
        data = data.shuffle(len(examples), seed=seed, reshuffle_each_iteration=True).repeat()
        data = data.batch(batch_size, drop_remainder=True)
        # A fresh, repeatable [2] seed per batch and epoch, for the stateless random ops of `augment`.
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
        data = tf.data.Dataset.zip((data, seeds)).map(_augmented, num_parallel_calls=tf.data.AUTOTUNE)
    else:
        data = data.batch(batch_size)
    data = data.map(lambda images, aspects, labels: ({"image": images, "aspect": aspects}, labels))
    return data.prefetch(tf.data.AUTOTUNE)
