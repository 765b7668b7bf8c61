"""Training: determinism, learnable parameters, configuration errors."""

from __future__ import annotations

import pytest
import torch

from squat_deploy.errors import UserError
from squat_deploy.nn.context import Mode
from squat_deploy.nn.network import SpikingNetwork
from squat_deploy.profiles import load_target
from squat_deploy.train import TrainConfig, fit, load_training_data, seed_everything, train

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
        ("float_epochs", -1, "invalid float epochs -1"),
        ("dataset", "cifar", "invalid dataset 'cifar'"),
        ("input_pooling", 3, "invalid input pooling 3 for the 8x8 digits"),
        ("data", "somewhere", "--data applies to the datasets read from files"),
    ],
)
def test_invalid_config_rejected(field, value, fragment):
    with pytest.raises(UserError, match=fragment):
        train(TrainConfig(**{**QUICK, field: value}), progress=False)


def test_float_epochs_then_qat():
    """Float pretraining followed by QAT equals the two fit() calls made by hand."""
    config = TrainConfig(**QUICK, float_epochs=1, qat_learning_rate=1e-3)
    checkpoint, _ = train(config, progress=False)

    profile = load_target(config.target)
    resolved = config.resolved(profile)
    seed_everything(resolved.seed)
    _, train_set, test_set = load_training_data(resolved, profile)
    network = SpikingNetwork(resolved.network_config(train_set.spikes.shape[2], 10), profile)
    fit(network, train_set, 1, resolved.batch_size, resolved.learning_rate, resolved.seed, mode=Mode.FLOAT, progress=False)
    fit(network, train_set, 1, resolved.batch_size, 1e-3, resolved.seed, mode=Mode.FAKE_QUANT, progress=False)
    for key, value in network.state_dict().items():
        assert torch.equal(checkpoint.state_dict[key], value), key


def test_float_epochs_change_model():
    plain, _ = train(TrainConfig(**QUICK), progress=False)
    pretrained, _ = train(TrainConfig(**QUICK, float_epochs=1), progress=False)
    assert not torch.equal(plain.state_dict["linears.0.weight"], pretrained.state_dict["linears.0.weight"])
