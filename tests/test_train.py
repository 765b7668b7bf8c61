"""Training: determinism, learnable parameters, configuration errors."""

from __future__ import annotations

import pytest
import torch

from squat_deploy.errors import UserError
from squat_deploy.train import TrainConfig, train

QUICK = dict(epochs=1, limit=64, hidden_size=8, num_steps=8)


def test_same_seed_same_weights():
    first, _ = train(TrainConfig(**QUICK), progress=False)
    second, _ = train(TrainConfig(**QUICK), progress=False)
    assert first.state_dict.keys() == second.state_dict.keys()
    for key in first.state_dict:
        assert torch.equal(first.state_dict[key], second.state_dict[key]), key


def test_other_seed_other_weights():
    first, _ = train(TrainConfig(**QUICK), progress=False)
    second, _ = train(TrainConfig(**QUICK, seed=1), progress=False)
    assert not torch.equal(first.state_dict["linears.0.weight"], second.state_dict["linears.0.weight"])


def test_learned_threshold_moves():
    checkpoint, _ = train(TrainConfig(**QUICK, learn_threshold=True, learning_rate=0.05), progress=False)
    assert checkpoint.state_dict["neurons.0.threshold"].item() != 1.0
    assert checkpoint.state_dict["neurons.0.beta"].item() != 0.9


def test_fixed_parameters_stay():
    checkpoint, _ = train(TrainConfig(**QUICK, learn_beta=False), progress=False)
    assert checkpoint.state_dict["neurons.0.threshold"].item() == 1.0
    assert checkpoint.state_dict["neurons.0.beta"].item() == pytest.approx(0.9)


@pytest.mark.parametrize(
    "field, value, fragment",
    [
        ("hidden_type", "LIF", "invalid hidden type 'LIF'"),
        ("state_bits", 0, "invalid state bits 0"),
        ("state_scheme", "log", "invalid state scheme 'log'"),
        ("epochs", 0, "invalid epochs 0"),
    ],
)
def test_invalid_config_rejected(field, value, fragment):
    with pytest.raises(UserError, match=fragment):
        train(TrainConfig(**{**QUICK, field: value}), progress=False)
