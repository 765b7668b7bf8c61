"""Bit-exactness of the simulator against the torch model, over random models and profiles."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from squat_deploy.checkpoint import Checkpoint
from squat_deploy.compiler import compile_artifact
from squat_deploy.data.digits import SpikeDataset
from squat_deploy.errors import WidthError
from squat_deploy.export import export_checkpoint
from squat_deploy.nn.context import Mode
from squat_deploy.nn.network import SpikingNetwork
from squat_deploy.sim import simulate
from squat_deploy.verify import verify
from tests.strategies import network_configs, profiles


def _random_network(config, profile, seed: int, weight_gain: float) -> SpikingNetwork:
    torch.manual_seed(seed)
    network = SpikingNetwork(config, profile)
    with torch.no_grad():
        for parameter in network.parameters():
            parameter.mul_(weight_gain)
    return network


def _checkpoint(network: SpikingNetwork) -> Checkpoint:
    return Checkpoint(
        network=network.config,
        profile=network.context.profile,
        state_dict=network.state_dict(),
        encoding={"dataset": "random", "num_steps": 0},
        training={},
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    config=network_configs(),
    profile=profiles(),
    seed=st.integers(0, 2**16),
    weight_gain=st.sampled_from([1.0, 4.0, 40.0]),
    steps=st.integers(1, 12),
    density=st.sampled_from([0.2, 0.6, 1.0]),
)
def test_simulator_matches_torch_target(config, profile, seed, weight_gain, steps, density):
    network = _random_network(config, profile, seed, weight_gain)
    try:
        graph = compile_artifact(export_checkpoint(_checkpoint(network)))
    except WidthError as error:
        # A narrow shift range can round a whole layer to zero, and a level
        # table can outgrow a narrow current. The compiler rejects both, so
        # such a model has nothing to compare.
        assume("rounds to zero" not in str(error) and "current and state" not in str(error))
        raise
    rng = np.random.default_rng(seed)
    raster = (rng.random((5, steps, config.input_size)) < density).astype(np.uint8)
    report = verify(network, graph, SpikeDataset(raster, np.zeros(5, dtype=np.int64), "random"))
    assert report.first_mismatch is None, report.first_mismatch.describe()
    assert report.spike_match_rate == 1.0
    assert report.state_match_rate == 1.0


@settings(max_examples=60, deadline=None)
@given(config=network_configs(), profile=profiles(event_synapse=False), seed=st.integers(0, 2**16), weight_gain=st.sampled_from([1.0, 4.0, 40.0]))
def test_fake_quant_float64_equals_target(config, profile, seed, weight_gain):
    """Training arithmetic in float64 rounds exactly as the integer step."""
    network = _random_network(config, profile, seed, weight_gain).double()
    rng = np.random.default_rng(seed)
    inputs = torch.as_tensor((rng.random((10, 3, config.input_size)) < 0.5).astype(np.float64))
    scale = 2.0**profile.state_frac_bits
    with torch.no_grad():
        with network.mode(Mode.FAKE_QUANT):
            fake = network(inputs, record=True)
        with network.mode(Mode.TARGET):
            exact = network(inputs, record=True)
    for fake_spikes, exact_spikes in zip(fake.spikes, exact.spikes):
        assert torch.equal(fake_spikes.long(), exact_spikes)
    for fake_mem, exact_mem in zip(fake.mem, exact.mem):
        assert torch.equal(fake_mem * scale, exact_mem.double())


@pytest.mark.parametrize("neuron_type", ["Leaky", "RLeaky", "Synaptic", "RSynaptic"])
def test_saturating_model_stays_exact(neuron_type):
    """Weights large enough to saturate every width still match step for step."""
    from squat_deploy.nn.network import LayerConfig, NetworkConfig
    from squat_deploy.profiles import load_target

    config = NetworkConfig(4, [LayerConfig("hidden", neuron_type, 3, bias=True), LayerConfig("output", "Leaky", 2)])
    network = _random_network(config, load_target("fpga-int8"), 3, 2000.0)
    graph = compile_artifact(export_checkpoint(_checkpoint(network)))
    raster = np.ones((2, 6, 4), dtype=np.uint8)
    report = verify(network, graph, SpikeDataset(raster, np.zeros(2, dtype=np.int64), "ones"))
    assert report.bit_exact
    hidden_mem = simulate(graph, raster).mem[0]
    assert hidden_mem.max() == 32767 or hidden_mem.min() == -32768


def test_event_counts_stay_exact():
    """Input rasters with several events per channel and step match too."""
    from squat_deploy.nn.network import LayerConfig, NetworkConfig
    from squat_deploy.profiles import load_target

    config = NetworkConfig(6, [LayerConfig("hidden", "RSynaptic", 5, bias=True), LayerConfig("output", "Leaky", 3)])
    network = _random_network(config, load_target("fpga-int8"), 11, 4.0)
    graph = compile_artifact(export_checkpoint(_checkpoint(network)))
    raster = np.random.default_rng(11).integers(0, 16, size=(4, 10, 6)).astype(np.uint8)
    report = verify(network, graph, SpikeDataset(raster, np.zeros(4, dtype=np.int64), "counts"))
    assert report.bit_exact
    assert raster.max() == 15


def test_event_counts_over_target_limit():
    from squat_deploy.errors import UserError
    from squat_deploy.nn.network import LayerConfig, NetworkConfig
    from squat_deploy.profiles import load_target

    config = NetworkConfig(2, [LayerConfig("hidden", "Leaky", 2, reset="zero"), LayerConfig("output", "Leaky", 2, reset="zero")])
    graph = compile_artifact(export_checkpoint(_checkpoint(_random_network(config, load_target("loihi1"), 0, 1.0))))
    with pytest.raises(UserError, match=r"takes 0 to 1 events per input per step"):
        simulate(graph, np.full((1, 3, 2), 2, dtype=np.uint8))


@st.composite
def shipped_profile_networks(draw):
    """A random network that a randomly chosen shipped profile accepts."""
    from squat_deploy.nn.network import LayerConfig, NetworkConfig
    from squat_deploy.nn.neurons import StateQuantSpec
    from squat_deploy.profiles import load_target, shipped_targets

    profile = load_target(draw(st.sampled_from(sorted(shipped_targets()))))
    resets = [reset.value for reset in profile.resets]
    spec = StateQuantSpec(num_bits=draw(st.integers(1, 4))) if profile.level_tables and draw(st.booleans()) else None
    layers = []
    for name, size in (("hidden", draw(st.integers(1, 6))), ("output", draw(st.integers(1, min(4, profile.resources.max_outputs))))):
        layers.append(
            LayerConfig(
                name=name,
                neuron_type=draw(st.sampled_from(profile.neuron_types)),
                size=size,
                bias=profile.bias and draw(st.booleans()),
                beta=draw(st.floats(0.0, 1.0)),
                alpha=draw(st.floats(0.0, 1.0)),
                threshold=draw(st.floats(0.25, 2.0)),
                reset=draw(st.sampled_from(resets)),
                state_quant=spec,
            )
        )
    return profile, NetworkConfig(draw(st.integers(1, min(6, profile.resources.max_inputs))), layers)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=shipped_profile_networks(), seed=st.integers(0, 2**16), weight_gain=st.sampled_from([1.0, 4.0, 40.0]))
def test_every_shipped_profile_bit_exact(case, seed, weight_gain):
    profile, config = case
    network = _random_network(config, profile, seed, weight_gain)
    try:
        graph = compile_artifact(export_checkpoint(_checkpoint(network)))
    except WidthError as error:
        assume("rounds to zero" not in str(error))
        raise
    rng = np.random.default_rng(seed)
    events = rng.integers(0, profile.max_input_events + 1, size=(4, 10, config.input_size))
    raster = np.where(rng.random(events.shape) < 0.5, events, 0).astype(np.uint8)
    report = verify(network, graph, SpikeDataset(raster, np.zeros(4, dtype=np.int64), "random"))
    assert report.first_mismatch is None, report.first_mismatch.describe()
