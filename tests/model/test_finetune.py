"""LP-FT: the head starts as the linear probe, then every layer is fine-tuned; nothing is
chosen on validation images."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from datacentric.model.cv import ProbeClassifier
from datacentric.model.finetune import FineTuner, _head_inputs, decode_images
from tests.support.factories import TINY


@pytest.fixture
def labelled(images):
    paths = [p for name in ("red", "green", "blue") for p in images[name]]
    y = np.repeat([0, 1, 2], [len(images["red"]), len(images["green"]), len(images["blue"])])
    return paths, y


def test_the_head_starts_as_the_probe_on_the_pretrained_features(labelled):
    paths, y = labelled
    tuner = FineTuner(TINY, n_classes=3, epochs=0, image_size=32).fit(paths, y)
    bank = decode_images(paths, tuner.data_config_)
    features = _head_inputs(tuner.module_, torch.stack([bank[p][1] for p in paths]))
    probe = ProbeClassifier(n_classes=3).fit(features, y)  # what `--mode probe` fits on these features
    np.testing.assert_allclose(tuner.predict_proba(paths), probe.predict_proba(features), atol=1e-4)
    assert (tuner.predict_proba(paths).argmax(1) == y).mean() == 1.0  # colours: a probe separates them


def test_fine_tuning_moves_the_trunk_and_validation_only_adds_its_loss(labelled):
    paths, y = labelled
    train, val = paths[::2], paths[1::2]
    options = dict(n_classes=3, epochs=2, image_size=32, lr=1e-3, seed=3)
    with_val = FineTuner(TINY, **options).fit(train, y[::2], val_paths=val, val_y=y[1::2])
    without = FineTuner(TINY, **options).fit(train, y[::2])
    start = FineTuner(TINY, **{**options, "epochs": 0}).fit(train, y[::2])
    trunk = [k for k, v in start.module_.state_dict().items() if v.dtype.is_floating_point and "classifier" not in k]
    moved = [k for k in trunk if not torch.equal(start.module_.state_dict()[k], without.module_.state_dict()[k])]
    assert len(moved) > len(trunk) // 2  # fine-tuning, not just a head
    assert [set(r) for r in with_val.history_] == [{"epoch", "train_loss", "val_loss"}] * 2
    np.testing.assert_allclose(with_val.predict_proba(val), without.predict_proba(val), atol=1e-5)
