"""From labels.csv to tf.data: read the examples, split them by photo, decode, augment, batch.

Preprocessing (PREPROCESSING below, copied into RUN/config.json; the browser repeats it): take the photo
as displayed at the dataset's long side (512 by default, as the extractor wrote it), decode to RGB, resize
it to image_size×image_size ignoring the aspect ratio (bilinear, half-pixel centres, no antialiasing:
tf.image.resize, or tf.image.resizeBilinear with halfPixelCenters=true in TF.js), scale to float32 in [0, 1]. The model's second input is the displayed
aspect ratio width / height from labels.csv, which the stretched pixels no longer show.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import tensorflow as tf

from cropstyle.extractor.dataset import LABEL_COLUMNS
from cropstyle.extractor.geometry import LABEL_VALUES, Crop, crop_problem
from cropstyle.training import crop_tf


PREPROCESSING = {
    "inputs": {
        "image": "float32 [image_size, image_size, 3], RGB in [0, 1]",
        "aspect": "float32 [1], displayed width / height of the photo",
    },
    "steps": [
        "start from the photo as displayed (EXIF orientation applied), its long side brought down to source_long_side "
        "as the extractor does (extractor/pixels.py: Pillow bicubic, reducing_gap=2; in a browser, draw the photo "
        "onto a canvas of that size): downscaling straight to image_size without antialiasing would alias",
        "decode it (the dataset's JPEG) to RGB",
        "resize to image_size x image_size ignoring the aspect ratio: bilinear, half-pixel centres, no antialias "
        "(tf.image.resize(method='bilinear', antialias=False); TF.js tf.image.resizeBilinear(img, [s, s], false, true))",
        "cast to float32 and divide by 255",
    ],
    "outputs": "float32 [5]: left, top, right, bottom (fractions of the displayed frame, Lightroom corner "
               "convention) and angle (degrees, clockwise), see extractor/geometry.py",
}


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
        return Examples(self.paths[mask], self.aspects[mask], self.labels[mask], self.frame[mask].reset_index(drop=True))


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def read_examples(datasets: list[Path]) -> Examples:
    """All usable rows of the datasets' labels.csv files (rows whose crop is invalid are left out)."""
    frames = []
    for dataset in datasets:
        frame = pd.read_csv(Path(dataset) / "labels.csv", dtype={"source": str, "image": str})
        missing = set(LABEL_COLUMNS[:11]) - set(frame.columns)
        if missing:
            raise ValueError(f"{dataset}/labels.csv lacks columns {sorted(missing)}")
        frame["path"] = [str((Path(dataset) / image).resolve()) for image in frame["image"]]
        frames.append(frame)
    frame = pd.concat(frames, ignore_index=True)
    if frame.empty:
        raise ValueError("the datasets hold no examples")
    valid = [crop_problem(Crop(*row), w, h) is None
             for row, w, h in zip(frame[list(LABEL_VALUES)].to_numpy(float), frame["width"], frame["height"])]
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
    image = tf.io.decode_jpeg(tf.io.read_file(path), channels=3)
    image = tf.image.resize(image, [image_size, image_size], method="bilinear", antialias=False)
    return image / 255.0


def augment(images: tf.Tensor, aspects: tf.Tensor, labels: tf.Tensor, seed: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """A batch [B, S, S, 3], its aspect ratios [B, 1] and labels [B, 5] → augmented images and labels.

    Each photo is flipped left-right at random with its label mirrored (crop_tf.flip_horizontal: centre
    mirrored, angle negated), and gets mild photometric jitter that leaves the label alone: brightness
    ±0.08, contrast ×0.85–1.15 about the photo's mean, saturation ×0.85–1.15 about its luma. Nothing here
    moves pixels without moving the label. `seed` is a [2] stateless seed for this batch. Working on
    whole batches keeps the pipeline cheap beside the model on a small CPU.
    """
    seeds = tf.random.experimental.stateless_split(seed, 4)
    n = tf.shape(images)[0]
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


def make_dataset(examples: Examples, image_size: int, batch_size: int, *, training: bool, seed: int = 0,
                 cache: bool = True) -> tf.data.Dataset:
    """({"image", "aspect"}, label) batches: decoded and resized once (cached), then, when `training`,
    shuffled, repeated without end in full batches and augmented anew, a batch at a time, in parallel;
    otherwise every photo once, in order. Prefetched."""
    data = tf.data.Dataset.from_tensor_slices((examples.paths, examples.aspects[:, None], examples.labels))
    data = data.map(lambda path, aspect, label: (load_image(path, image_size), aspect, label),
                    num_parallel_calls=tf.data.AUTOTUNE)
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
