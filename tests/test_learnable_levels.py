"""Learnable level tables, weight QAT off, and their training options.

A learnable table starts as the spec's float64 table ``initial``. Its
parameters are ``level_offset``, which shifts the whole table, and one
``level_log_scales`` entry per gap, which scales that gap by ``exp(log
scale)``. A running maximum keeps the table non-decreasing. In
fake-quantized mode the table is rounded to the state grid with a
straight-through gradient, and it is exported as an integer table like a
fixed one.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from squat_deploy.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from squat_deploy.compiler import compile_artifact
from squat_deploy.data.digits import SpikeDataset
from squat_deploy.errors import UserError
from squat_deploy.export import export_checkpoint
from squat_deploy.nn.context import Mode, QuantContext
from squat_deploy.nn.linear import QuantLinear
from squat_deploy.nn.network import LayerConfig, NetworkConfig, SpikingNetwork
from squat_deploy.nn.neurons import QLeaky, StateQuantSpec
from squat_deploy.pipeline import dataset_for
from squat_deploy.profiles import load_target, shipped_targets
from squat_deploy.quant.levels import LevelScheme, snap
from squat_deploy.train import TrainConfig, fit, time_major, train
from squat_deploy.verify import verify

LIMITS = [(0.0, 0.2), (0.5, 0.5), (1.0, 0.2), (0.0, 0.0)]
MULTIPLIERS = [None, 0.3, 0.9]
# The shipped profiles whose states may be stored as level-table indices.
LEVEL_TABLE_PROFILES = ["fpga-int4", "fpga-int8", "loihi2"]
INPUTS, HIDDEN, OUTPUTS, STEPS = 12, 10, 3, 10
LEVEL_KEYS = {"neurons.0.level_offset", "neurons.0.level_log_scales", "neurons.1.level_offset", "neurons.1.level_log_scales"}


def neuron(profile_name: str, spec: StateQuantSpec) -> QLeaky:
    return QLeaky(4, QuantContext(load_target(profile_name)), state_quant=spec)


def learnable_config(profile_name: str, hidden_type: str = "RLeaky", output_type: str = "Leaky") -> NetworkConfig:
    spec = StateQuantSpec(3, LevelScheme.THRESHOLD_CENTERED, learnable=True)
    reset = load_target(profile_name).resets[0].value
    return NetworkConfig(
        INPUTS,
        [
            LayerConfig("hidden", hidden_type, HIDDEN, reset=reset, state_quant=spec),
            LayerConfig("output", output_type, OUTPUTS, reset=reset, state_quant=spec),
        ],
    )


def random_raster(seed: int, samples: int, density: float = 0.4) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random((samples, STEPS, INPUTS)) < density).astype(np.uint8)


def trained_network(profile_name: str, hidden_type: str = "RLeaky", output_type: str = "Leaky") -> SpikingNetwork:
    """Return a learnable 3-bit network trained for three epochs on random rasters and labels."""
    torch.manual_seed(0)
    network = SpikingNetwork(learnable_config(profile_name, hidden_type, output_type), load_target(profile_name))
    with torch.no_grad():
        # Larger weights than the default init, so both layers spike.
        network.linears[0].weight.mul_(3.0)
        network.linears[1].weight.mul_(8.0)
    labels = np.random.default_rng(1).integers(0, OUTPUTS, 40)
    fit(network, SpikeDataset(random_raster(0, 40), labels, "random"), 3, batch_size=8, learning_rate=0.005, progress=False)
    return network


def as_checkpoint(network: SpikingNetwork) -> Checkpoint:
    return Checkpoint(
        network=network.config,
        profile=network.context.profile,
        state_dict={name: value.detach().clone() for name, value in network.state_dict().items()},
        encoding={"dataset": "random", "num_steps": STEPS},
        training={},
    )


# Initial table ----------------------------------------------------------


def test_level_table_profiles():
    """The initial-table tests below cover every shipped profile with level tables."""
    shipped = [name for name in shipped_targets() if load_target(name).level_tables]
    assert shipped == LEVEL_TABLE_PROFILES


@pytest.mark.parametrize("profile_name", LEVEL_TABLE_PROFILES)
@pytest.mark.parametrize("scheme", list(LevelScheme), ids=lambda scheme: scheme.value)
def test_init_equals_fixed_table(profile_name, scheme):
    """Before training, the learnable table is the fixed one, in float64 and in state LSBs."""
    for num_bits in range(1, load_target(profile_name).max_level_bits + 1):
        for lower, upper in LIMITS:
            for multiplier in MULTIPLIERS:
                fixed = StateQuantSpec(num_bits, scheme, lower_limit=lower, upper_limit=upper, multiplier=multiplier)
                learnable = neuron(profile_name, dataclasses.replace(fixed, learnable=True))
                expected_floats = torch.tensor(sorted(fixed.float_levels()), dtype=torch.float64)
                case = f"{num_bits} bits, limits {lower}, {upper}, multiplier {multiplier}"
                assert torch.equal(learnable.learned_float_levels().detach(), expected_floats), case
                assert torch.equal(learnable.integer_levels, neuron(profile_name, fixed).integer_levels), case


def test_init_parameters():
    spec = StateQuantSpec(3, LevelScheme.UNIFORM, learnable=True)
    cell = neuron("fpga-int8", spec)
    names = {name for name, _ in cell.named_parameters()}
    assert {"level_offset", "level_log_scales"} <= names
    assert cell.level_offset.shape == (1,)
    assert cell.level_log_scales.shape == (7,)
    assert cell.level_offset.dtype == torch.float32
    assert cell.level_log_scales.dtype == torch.float32
    assert cell.level_offset.tolist() == [0.0]
    assert cell.level_log_scales.tolist() == [0.0] * 7
    assert cell.learned_float_levels().dtype == torch.float64
    assert cell.learned_float_levels().shape == (8,)


def test_initial_levels_not_saved():
    """The initial table comes from the spec, so the state_dict stores only the two parameters."""
    cell = neuron("fpga-int8", StateQuantSpec(3, learnable=True))
    level_names = {name for name in cell.state_dict() if "level" in name}
    assert level_names == {"level_offset", "level_log_scales"}


def test_fixed_table_has_no_parameters():
    cell = neuron("fpga-int8", StateQuantSpec(3))
    assert cell.level_offset is None
    assert cell.level_log_scales is None
    assert not any("level" in name for name in cell.state_dict())


def test_integer_levels_no_grad():
    cell = neuron("fpga-int8", StateQuantSpec(3, learnable=True))
    assert cell.integer_levels.dtype == torch.int64
    assert not cell.integer_levels.requires_grad


# Spec records ------------------------------------------------------------


def test_spec_old_dict():
    old = {"num_bits": 4, "scheme": "threshold-centered", "threshold": 1.0, "lower_limit": 0.0, "upper_limit": 0.2, "multiplier": None}
    spec = StateQuantSpec.from_dict(old)
    assert spec.learnable is False
    assert spec == StateQuantSpec(4)


def test_spec_round_trip():
    spec = StateQuantSpec(5, LevelScheme.ZERO_CENTERED, lower_limit=0.5, learnable=True)
    data = spec.to_dict()
    assert data["learnable"] is True
    assert data["scheme"] == "zero-centered"
    assert StateQuantSpec.from_dict(data) == spec


# Gradients and training ----------------------------------------------------


def moved_uniform_cell() -> QLeaky:
    """Return a 2-bit uniform fpga-int8 cell with offset 0.5 and log scales 0, ln 2 and -ln 2."""
    cell = neuron("fpga-int8", StateQuantSpec(2, LevelScheme.UNIFORM, learnable=True))
    with torch.no_grad():
        cell.level_offset.fill_(0.5)
        cell.level_log_scales.copy_(torch.tensor([0.0, math.log(2.0), -math.log(2.0)]))
    return cell


def test_learned_levels_values():
    """The offset shifts every level by 0.5. The second gap doubles and the third halves."""
    cell = moved_uniform_cell()
    initial = sorted(cell.state_quant.float_levels())
    gaps = np.diff(initial)
    expected = [
        initial[0] + 0.5,
        initial[1] + 0.5,
        initial[2] + 0.5 + gaps[1],
        initial[3] + 0.5 + gaps[1] - 0.5 * gaps[2],
    ]
    # The tolerance covers log(2) rounded to float32.
    assert cell.learned_float_levels().tolist() == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("index", range(4))
def test_level_gradients(index):
    """d level_i / d offset = 1, and d level_i / d log_scale_j = gap_j * exp(log_scale_j) for j < i, else 0."""
    cell = moved_uniform_cell()
    gaps = np.diff(sorted(cell.state_quant.float_levels()))
    scales = np.exp(cell.level_log_scales.detach().double().numpy())
    cell.learned_float_levels()[index].backward()
    assert cell.level_offset.grad.tolist() == [1.0]
    gradient = cell.level_log_scales.grad.double().numpy()
    for j in range(3):
        expected = gaps[j] * scales[j] if j < index else 0.0
        assert gradient[j] == pytest.approx(expected, rel=1e-6, abs=0.0), j


@pytest.mark.parametrize("profile_name", ["fpga-int8", "loihi2"])
def test_gradients_reach_levels(profile_name):
    torch.manual_seed(0)
    network = SpikingNetwork(learnable_config(profile_name), load_target(profile_name))
    with torch.no_grad():
        network.linears[0].weight.mul_(3.0)
        network.linears[1].weight.mul_(8.0)
    inputs = time_major(random_raster(2, 6))
    with network.mode(Mode.FAKE_QUANT):
        counts = network(inputs).sum(dim=0)
    F.cross_entropy(counts, torch.tensor([0, 1, 2, 0, 1, 2])).backward()
    for index, cell in enumerate(network.neurons):
        for parameter in (cell.level_offset, cell.level_log_scales):
            assert parameter.grad is not None, index
            assert bool(torch.isfinite(parameter.grad).all()), index
            assert float(parameter.grad.abs().sum()) > 0, index


def test_float_mode_gradient():
    """Float mode with ``float_state_quant`` snaps to the float table and trains it too."""
    cell = neuron("fpga-int8", StateQuantSpec(2, learnable=True))
    current = torch.full((1, 4), 0.3, requires_grad=True)
    with torch.no_grad():
        state = cell.initial_state(1, current)
    cell.context.mode = Mode.FLOAT
    cell.context.float_state_quant = True
    _, new_state = cell(current, state)
    new_state.mem.sum().backward()
    assert cell.level_log_scales.grad is not None
    assert float(cell.level_offset.grad.abs().sum()) > 0
    levels = cell.learned_float_levels().detach().float()
    assert bool(torch.isin(new_state.mem.detach(), levels).all())


def test_training_keeps_levels_sorted():
    torch.manual_seed(0)
    network = SpikingNetwork(learnable_config("fpga-int4"), load_target("fpga-int4"))
    with torch.no_grad():
        network.linears[0].weight.mul_(3.0)
        network.linears[1].weight.mul_(8.0)
    optimizer = torch.optim.Adam(network.parameters(), lr=1.0)
    inputs = time_major(random_raster(3, 8))
    labels = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    initial = [cell.integer_levels.clone() for cell in network.neurons]
    # Ten steps at a learning rate that throws the log scales far from zero, then small ones.
    for step, rate in enumerate([1.0] * 10 + [1e-2] * 5):
        for group in optimizer.param_groups:
            group["lr"] = rate
        with network.mode(Mode.FAKE_QUANT):
            loss = F.cross_entropy(network(inputs).sum(dim=0), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        for index, cell in enumerate(network.neurons):
            integer = cell.integer_levels
            floats = cell.learned_float_levels().detach()
            assert bool((integer[1:] >= integer[:-1]).all()), (step, index)
            assert bool((floats[1:] >= floats[:-1]).all()), (step, index)
    assert any(not torch.equal(before, cell.integer_levels) for before, cell in zip(initial, network.neurons))


def test_collapsing_levels_stay_sorted():
    """Pushing every log scale far below zero collapses the integer table, which stays sorted and compiles."""
    torch.manual_seed(0)
    network = SpikingNetwork(learnable_config("fpga-int8"), load_target("fpga-int8"))
    optimizer = torch.optim.Adam([cell.level_log_scales for cell in network.neurons], lr=1.0)
    for _ in range(20):
        span = sum(cell.learned_float_levels()[-1] - cell.learned_float_levels()[0] for cell in network.neurons)
        optimizer.zero_grad()
        span.backward()
        optimizer.step()
    for cell in network.neurons:
        integer = cell.integer_levels
        floats = cell.learned_float_levels().detach()
        assert bool((integer[1:] >= integer[:-1]).all())
        assert bool((floats[1:] >= floats[:-1]).all())
        assert int(integer[-1] - integer[0]) <= 1
    graph = compile_artifact(export_checkpoint(as_checkpoint(network)))
    assert graph.layers[0].levels.size == 8
    report = verify(network, graph, SpikeDataset(random_raster(4, 6), np.zeros(6, dtype=np.int64), "random"))
    assert report.bit_exact, report.first_mismatch.describe()


@pytest.mark.parametrize(
    ("scheme", "gap"),
    # In the zero-centred case the float64 sum puts level 3 about 1e-16 below
    # level 2, so this case fails without the running maximum.
    [(LevelScheme.THRESHOLD_CENTERED, 1), (LevelScheme.ZERO_CENTERED, 2)],
    ids=["threshold-centered", "zero-centered"],
)
def test_collapsed_gap_stays_sorted(scheme, gap):
    """A log scale of -50 makes exp(log scale) - 1 round to -1 in float64, so the gap closes and the table stays non-decreasing."""
    cell = neuron("fpga-int8", StateQuantSpec(2, scheme, learnable=True))
    initial = cell.integer_levels.clone()
    with torch.no_grad():
        cell.level_log_scales[gap] = -50.0
    floats = cell.learned_float_levels().detach()
    integer = cell.integer_levels
    assert bool((floats[1:] >= floats[:-1]).all())
    assert float(floats[gap + 1]) == float(floats[gap])
    assert bool((integer[1:] >= integer[:-1]).all())
    assert int(integer[gap + 1]) == int(integer[gap])
    assert torch.equal(integer[: gap + 1], initial[: gap + 1])


# Export, verify, checkpoints ----------------------------------------------


@pytest.fixture(scope="module")
def trained_int8() -> SpikingNetwork:
    return trained_network("fpga-int8")


def test_training_moves_levels(trained_int8):
    initial = SpikingNetwork(trained_int8.config, trained_int8.context.profile)
    for before, after in zip(initial.neurons, trained_int8.neurons):
        assert not torch.equal(before.integer_levels, after.integer_levels)


def test_export_levels(trained_int8):
    artifact = export_checkpoint(as_checkpoint(trained_int8))
    graph = compile_artifact(artifact)
    for entry, layer, cell in zip(artifact.manifest["layers"], graph.layers, trained_int8.neurons):
        expected = cell.integer_levels.numpy()
        assert np.array_equal(artifact.arrays[entry["levels"]], expected)
        assert np.array_equal(layer.levels, expected)
        assert entry["level_bits"] == 3
        assert entry["state_quant"]["learnable"] is True


@pytest.mark.parametrize(
    ("profile_name", "hidden_type", "output_type"),
    [("fpga-int8", "RLeaky", "Leaky"), ("fpga-int8", "RSynaptic", "Synaptic"), ("fpga-int4", "RLeaky", "Leaky"), ("loihi2", "RLeaky", "Leaky")],
)
def test_verify_bit_exact(profile_name, hidden_type, output_type, trained_int8):
    if (profile_name, hidden_type) == ("fpga-int8", "RLeaky"):
        network = trained_int8
    else:
        network = trained_network(profile_name, hidden_type, output_type)
    graph = compile_artifact(export_checkpoint(as_checkpoint(network)))
    dataset = SpikeDataset(random_raster(5, 20, density=0.5), np.zeros(20, dtype=np.int64), "random")
    report = verify(network, graph, dataset)
    assert report.bit_exact, report.first_mismatch.describe()
    assert report.spike_match_rate == 1.0
    assert report.state_match_rate == 1.0
    with torch.no_grad(), network.mode(Mode.TARGET):
        recording = network(time_major(dataset.spikes, torch.float64), record=True)
    assert int(recording.spikes[0].sum()) > 0
    assert int(recording.spikes[1].sum()) > 0
    # Every stored membrane, and synaptic current where there is one, is an entry of the learned table.
    assert bool(torch.isin(recording.mem[0], network.neurons[0].integer_levels).all())
    if recording.syn[0] is not None:
        assert bool(torch.isin(recording.syn[0], network.neurons[0].integer_levels).all())


def test_checkpoint_round_trip(trained_int8, tmp_path):
    path = tmp_path / "learned.pt"
    save_checkpoint(path, as_checkpoint(trained_int8))
    loaded = load_checkpoint(path)
    assert loaded.network.layers[0].state_quant.learnable is True
    assert LEVEL_KEYS <= set(loaded.state_dict)
    rebuilt = loaded.build_network()
    for original, copy in zip(trained_int8.neurons, rebuilt.neurons):
        assert torch.equal(copy.level_offset, original.level_offset)
        assert torch.equal(copy.level_log_scales, original.level_log_scales)
        assert torch.equal(copy.integer_levels, original.integer_levels)


# snap with learnable levels -------------------------------------------------


@st.composite
def snap_cases(draw):
    """Integer levels (exact in float64), and inputs on a half-integer grid so that ties occur."""
    levels = sorted(draw(st.sets(st.integers(-40, 40), min_size=1, max_size=12)))
    halves = st.integers(2 * levels[0] - 8, 2 * levels[-1] + 8).map(lambda n: n / 2)
    anywhere = st.floats(levels[0] - 5.0, levels[-1] + 5.0, allow_nan=False)
    size = draw(st.integers(1, 30))
    x = draw(st.lists(st.one_of(halves, anywhere), min_size=size, max_size=size))
    upstream = draw(st.lists(st.integers(-3, 3).map(float), min_size=size, max_size=size))
    return levels, x, upstream


@settings(max_examples=200, deadline=None)
@given(case=snap_cases())
def test_snap_learnable_levels(case):
    levels_list, x_list, upstream_list = case
    levels = torch.tensor(levels_list, dtype=torch.float64, requires_grad=True)
    x = torch.tensor(x_list, dtype=torch.float64, requires_grad=True)
    upstream = torch.tensor(upstream_list, dtype=torch.float64)

    out = snap(x, levels)
    (out * upstream).sum().backward()

    table = np.asarray(levels_list, dtype=np.float64)
    # argmin takes the first minimum: a tie goes to the lower level.
    nearest = np.abs(np.asarray(x_list)[:, None] - table[None, :]).argmin(axis=1)
    assert np.array_equal(out.detach().numpy(), table[nearest])
    assert torch.equal(x.grad, upstream)
    expected = np.bincount(nearest, weights=np.asarray(upstream_list), minlength=len(levels_list))
    assert np.array_equal(levels.grad.numpy(), expected)


def test_snap_tie_goes_low():
    levels = torch.tensor([0.0, 2.0, 4.0], dtype=torch.float64, requires_grad=True)
    x = torch.tensor([1.0, 3.0], dtype=torch.float64, requires_grad=True)
    out = snap(x, levels)
    out.sum().backward()
    assert out.tolist() == [0.0, 2.0]
    assert levels.grad.tolist() == [1.0, 1.0, 0.0]
    assert x.grad.tolist() == [1.0, 1.0]


def test_snap_collapsed_levels():
    """Equal levels act as one: the lowest index takes the value and the gradient."""
    levels = torch.tensor([0.0, 1.0, 1.0, 3.0], dtype=torch.float64, requires_grad=True)
    x = torch.tensor([0.9, 1.0, 1.4, 2.0], dtype=torch.float64, requires_grad=True)
    out = snap(x, levels)
    out.sum().backward()
    assert out.tolist() == [1.0, 1.0, 1.0, 1.0]
    assert levels.grad.tolist() == [0.0, 4.0, 0.0, 0.0]
    assert x.grad.tolist() == [1.0, 1.0, 1.0, 1.0]


def test_snap_same_values_with_grad():
    x = torch.linspace(-3, 3, 61, dtype=torch.float64)
    levels = torch.tensor([-1.0, -0.25, 0.5, 1.2], dtype=torch.float64)
    assert torch.equal(snap(x, levels.clone().requires_grad_(True)).detach(), snap(x, levels))


def test_snap_infinite_input():
    x = torch.tensor([float("inf"), -float("inf")], dtype=torch.float64)
    levels = torch.tensor([-1.0, 0.0, 1.0], dtype=torch.float64)
    fixed = snap(x, levels)
    learnable = snap(x, levels.clone().requires_grad_(True)).detach()
    assert fixed.tolist() == [1.0, -1.0]
    assert learnable.tolist() == [1.0, -1.0]


# Fake-quantized mode rounds learnable levels --------------------------------


def test_fake_quant_levels_on_grid():
    cell = neuron("fpga-int4", StateQuantSpec(3, LevelScheme.UNIFORM, learnable=True))
    with torch.no_grad():
        cell.level_log_scales.add_(0.013)
    lsbs = cell._fake_quant_levels()
    assert torch.equal(lsbs.detach(), cell.integer_levels.double())
    assert lsbs.requires_grad


def test_fake_quant_levels_gradient():
    """Rounding to the state grid passes the gradient straight through, so each level's gradient is its float gradient times 2**5 LSBs."""
    cell = neuron("fpga-int4", StateQuantSpec(3, LevelScheme.UNIFORM, learnable=True))
    with torch.no_grad():
        cell.level_log_scales.add_(0.013)
    cell._fake_quant_levels().sum().backward()
    # Each of the 8 levels depends on the offset with slope 1.
    assert cell.level_offset.grad.tolist() == [8.0 * 2.0**5]
    # Log scale j moves the 7 - j levels above gap j, each by gap_j * exp(log_scale_j).
    gaps = np.diff(sorted(cell.state_quant.float_levels()))
    scales = np.exp(cell.level_log_scales.detach().double().numpy())
    expected = [2.0**5 * gaps[j] * scales[j] * (7 - j) for j in range(7)]
    assert cell.level_log_scales.grad.tolist() == pytest.approx(expected, rel=1e-6)


# weight_qat ----------------------------------------------------------------


def make_linear(profile_name: str, weight_qat: bool) -> QuantLinear:
    torch.manual_seed(0)
    context = QuantContext(load_target(profile_name), mode=Mode.FAKE_QUANT, weight_qat=weight_qat)
    return QuantLinear(INPUTS, 6, context, bias=True)


def test_weight_qat_off_current():
    """Without weight QAT the current is the float one, rounded (floor on fpga-int8) to the state grid."""
    linear = make_linear("fpga-int8", weight_qat=False)
    x = torch.as_tensor(random_raster(6, 1)[0], dtype=torch.float32)
    grid = 2.0**-10
    expected = torch.floor(F.linear(x, linear.weight, linear.bias) / grid) * grid
    out = linear(x)
    assert torch.equal(out.detach(), expected.detach())


def test_weight_qat_changes_current():
    off = make_linear("fpga-int4", weight_qat=False)
    on = make_linear("fpga-int4", weight_qat=True)
    assert torch.equal(off.weight, on.weight)
    x = torch.as_tensor(random_raster(7, 1)[0], dtype=torch.float32)
    assert not torch.equal(off(x), on(x))


def test_weight_qat_off_gradient():
    linear = make_linear("fpga-int8", weight_qat=False)
    x = torch.as_tensor(random_raster(8, 1)[0], dtype=torch.float32)
    upstream = torch.randn(STEPS, 6)
    (linear(x) * upstream).sum().backward()
    assert torch.allclose(linear.weight.grad, upstream.T @ x)
    assert torch.allclose(linear.bias.grad, upstream.sum(dim=0))


def test_target_ignores_weight_qat(trained_int8):
    inputs = time_major(random_raster(9, 8), torch.float64)
    recordings = {}
    for flag in (True, False):
        trained_int8.context.weight_qat = flag
        with torch.no_grad(), trained_int8.mode(Mode.TARGET):
            recordings[flag] = trained_int8(inputs, record=True)
    trained_int8.context.weight_qat = True
    for layer in range(2):
        assert torch.equal(recordings[True].spikes[layer], recordings[False].spikes[layer])
        assert torch.equal(recordings[True].mem[layer], recordings[False].mem[layer])


def test_fake_quant_uses_weight_qat(trained_int8):
    inputs = time_major(random_raster(10, 8), torch.float64)
    network = trained_int8.double()
    recordings = {}
    for flag in (True, False):
        network.context.weight_qat = flag
        with torch.no_grad(), network.mode(Mode.FAKE_QUANT):
            recordings[flag] = network(inputs, record=True)
    network.context.weight_qat = True
    network.float()
    assert not torch.equal(recordings[True].mem[0], recordings[False].mem[0])


# Training options ------------------------------------------------------------


def resolved(config: TrainConfig) -> TrainConfig:
    return config.resolved(load_target(config.target))


def test_validate_learnable_needs_state_bits():
    config = resolved(TrainConfig(state_bits=None, learnable_levels=True))
    with pytest.raises(UserError, match="learnable levels need a level table"):
        config.validate()


def test_validate_learnable_auto_without_tables():
    """On a target without level tables "auto" state bits resolve to none, so learnable levels are rejected."""
    config = resolved(TrainConfig(target="loihi1", learnable_levels=True))
    assert config.state_bits is None
    with pytest.raises(UserError, match="learnable levels need a level table"):
        config.validate()


def test_validate_learnable_with_state_bits():
    config = resolved(TrainConfig(state_bits=3, learnable_levels=True))
    config.validate()
    assert config.state_spec() == StateQuantSpec(3, learnable=True)


@pytest.fixture(scope="module")
def digits_learnable():
    checkpoint, report = train(TrainConfig(limit=60, hidden_size=16, epochs=1, learnable_levels=True), progress=False)
    return checkpoint, report


def test_train_level_parameters(digits_learnable):
    checkpoint, _ = digits_learnable
    assert LEVEL_KEYS <= set(checkpoint.state_dict)
    assert checkpoint.network.layers[0].state_quant.learnable is True
    assert checkpoint.training["config"]["learnable_levels"] is True
    initial = SpikingNetwork(checkpoint.network, checkpoint.profile)
    assert not torch.equal(initial.neurons[0].level_log_scales, checkpoint.state_dict["neurons.0.level_log_scales"])


def test_train_learnable_bit_exact(digits_learnable, tmp_path):
    checkpoint, _ = digits_learnable
    path = tmp_path / "model.pt"
    save_checkpoint(path, checkpoint)
    loaded = load_checkpoint(path)
    network = loaded.build_network()
    graph = compile_artifact(export_checkpoint(loaded, path))
    test_set = dataset_for(loaded)
    subset = SpikeDataset(test_set.spikes[:20], test_set.labels[:20], test_set.name)
    report = verify(network, graph, subset)
    assert report.bit_exact, report.first_mismatch.describe()
    assert np.array_equal(graph.layers[0].levels, network.neurons[0].integer_levels.numpy())


def test_train_weight_qat_off(monkeypatch):
    """``train`` runs ``fit`` with weight QAT off when configured, and records the setting."""
    seen = []

    def record_fit(network, *args, **kwargs):
        seen.append((network.context.weight_qat, kwargs.get("mode", Mode.FAKE_QUANT)))

    monkeypatch.setattr("squat_deploy.train.fit", record_fit)
    checkpoint, _ = train(TrainConfig(limit=20, hidden_size=8, epochs=1, weight_qat=False), progress=False)
    assert seen == [(False, Mode.FAKE_QUANT)]
    assert checkpoint.training["config"]["weight_qat"] is False
