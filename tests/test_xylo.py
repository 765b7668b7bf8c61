"""The xylo-audio target against rockpool's XyloSim (Xylo Audio 2, syns61201).

XyloSim is SynSense's C++ simulator of the chip (package xylosim, wrapped by
rockpool). Per hidden neuron and step, in int16 arithmetic, with
D(v, d) = v >> d (floor), replaced by sign(v) where that is 0 for v != 0:

    Isyn  each input event adds w << weight_shift_in, one event at a time,
          inputs in ascending index, saturating to int16 after every event;
          then each hidden spike of step t-1 adds w << weight_shift_rec
          Isyn -= D(Isyn, dash_syn)
    Vmem  Vmem = sat16(Vmem + sat16(-D(Vmem, dash_mem) + Isyn))
    spike while Vmem >= threshold and the count is below 31: Vmem -= threshold

An output neuron does the same with the hidden spike counts of step t-1
(weight_shift_out) and spikes at most once per step. The recorded Isyn and
Vmem are those after decay and reset.

``xylo_specification`` maps a compiled xylo-audio graph onto the arguments of
XyloSim.from_specification. The weights are the hidden layer's dense and
recurrent weights and the output layer's dense weights, transposed to
(pre, post). Each weight shift is minus the connection's shift, dash_mem is
beta, dash_syn is alpha, and the thresholds are the layers' thresholds. The
second hidden synapse and the biases are unused.

The package __init__ of rockpool.devices.xylo imports samna, the driver of
the real chip, which this test does not need. ``_load_xylosim`` therefore
imports only the xylo_sim modules, under stub packages whose __path__ is the
real folder, so that no package __init__ below rockpool.devices runs.
"""

from __future__ import annotations

import importlib
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from squat_deploy.checkpoint import Checkpoint
from squat_deploy.compiler import compile_artifact
from squat_deploy.compiler.graph import DenseOp, IntegerGraph
from squat_deploy.data.digits import SpikeDataset
from squat_deploy.errors import WidthError
from squat_deploy.export import export_checkpoint
from squat_deploy.nn.linear import QuantLinear
from squat_deploy.nn.network import LayerConfig, NetworkConfig, SpikingNetwork
from squat_deploy.profiles import load_target
from squat_deploy.sim import simulate
from squat_deploy.verify import verify

pytest.importorskip("xylosim")
rockpool = pytest.importorskip("rockpool")

INT16_MIN, INT16_MAX = -(1 << 15), (1 << 15) - 1


def _load_xylosim():
    """Return rockpool's syns61201 XyloSim class without running any xylo package __init__."""
    base = Path(rockpool.__file__).parent / "devices" / "xylo"
    # The syns61201 XyloSim subclasses the syns61300 one, so both folders need a package.
    for name, folder in (
        ("rockpool.devices.xylo", base),
        ("rockpool.devices.xylo.syns61300", base / "syns61300"),
        ("rockpool.devices.xylo.syns61201", base / "syns61201"),
    ):
        if name not in sys.modules:
            stub = types.ModuleType(name)
            stub.__path__ = [str(folder)]
            stub.__package__ = name
            sys.modules[name] = stub
    try:
        return importlib.import_module("rockpool.devices.xylo.syns61201.xylo_sim").XyloSim
    except ImportError as error:
        pytest.skip(f"rockpool's XyloSim cannot be imported: {error}", allow_module_level=True)


XyloSim = _load_xylosim()


# --- XyloSim on a hand-worked network ------------------------------------------
#
# Two inputs, two hidden neurons, one output neuron; weight_shift_in = 2, so
# input 0 adds 100 << 2 = 400 to hidden 0 and 1 << 2 = 4 to hidden 1 per
# event, and input 1 adds -7 << 2 = -28 to hidden 0. weight_shift_out = 2, so
# a hidden-0 spike adds 127 << 2 = 508 to the output a step later.
#
# hidden 0 (dash_syn 1, dash_mem 4, threshold 300):
# t=0  3 events: I = 1200, - (1200 >> 1) = 600    V = 600: two spikes, V = 0
# t=1  I = 600 - 300 = 300                         V = 300: one spike, V = 0
# t=2  15 events: I = 300 - 420 = -120, - (-60) = -60   V = -60
# t=3  I = -60 - (-30) = -30     V = -60 - (-60 >> 4 = -4) - 30 = -86
# t=4  I = -30 - (-15) = -15     V = -86 - (-86 >> 4 = -6) - 15 = -95
#
# hidden 1 (dash_syn 15, dash_mem 15, threshold 30000): v >> 15 is 0 for
# 0 < v < 2**15, so each positive state decays by exactly 1 per step.
# t=0  3 events: I = 12 - 1 = 11     V = 0 - 0 + 11 = 11
# t=1  I = 10    V = 11 - 1 + 10 = 20
# t=2  I = 9     V = 20 - 1 + 9 = 28
# t=3  I = 8     V = 35        t=4  I = 7    V = 41
#
# output (dash_syn 1, dash_mem 1, threshold 100): one spike per step at most,
# however far V is above the threshold.
# t=0  I = 0, V = 0
# t=1  2 spikes of t=0: I = 1016 - 508 = 508    V = 508: spike, V = 408
# t=2  1 spike of t=1: I = 508 + 508 - 508 = 508   V = 408 - 204 + 508 = 712: spike, V = 612
# t=3  I = 508 - 254 = 254    V = 612 - 306 + 254 = 560: spike, V = 460
# t=4  I = 254 - 127 = 127    V = 460 - 230 + 127 = 357: spike, V = 257


def golden_xylosim():
    weights_in = np.zeros((2, 2, 1), dtype=np.int64)
    weights_in[0, 0, 0] = 100
    weights_in[1, 0, 0] = -7
    weights_in[0, 1, 0] = 1
    return XyloSim.from_specification(
        weights_in=weights_in,
        weights_rec=np.zeros((2, 2, 1), dtype=np.int64),
        weights_out=np.array([[127], [0]]),
        dash_mem=np.array([4, 15]),
        dash_syn=np.array([1, 15]),
        dash_syn_2=np.ones(2, dtype=np.int64),
        dash_mem_out=np.array([1]),
        dash_syn_out=np.array([1]),
        threshold=np.array([300, 30000]),
        threshold_out=np.array([100]),
        bias=np.zeros(2, dtype=np.int64),
        bias_out=np.zeros(1, dtype=np.int64),
        weight_shift_in=2,
        weight_shift_rec=0,
        weight_shift_out=2,
    )


GOLDEN_RASTER = np.array([[3, 0], [0, 0], [0, 15], [0, 0], [0, 0]])


def test_xylosim_golden_hidden_states():
    _, _, recording = golden_xylosim()(GOLDEN_RASTER, record=True)

    assert recording["Isyn"].T.tolist() == [[600, 300, -60, -30, -15], [11, 10, 9, 8, 7]]
    assert recording["Vmem"].T.tolist() == [[0, 0, -60, -86, -95], [11, 20, 28, 35, 41]]
    assert recording["Spikes"].T.tolist() == [[2, 1, 0, 0, 0], [0, 0, 0, 0, 0]]


def test_xylosim_golden_output_states():
    out, _, recording = golden_xylosim()(GOLDEN_RASTER, record=True)

    assert recording["Isyn_out"][:, 0].tolist() == [0, 508, 508, 254, 127]
    assert recording["Vmem_out"][:, 0].tolist() == [0, 408, 612, 460, 257]
    assert out[:, 0].tolist() == [0, 1, 1, 1, 1]


# --- squat-deploy networks and their XyloSim specification ---------------------


def make_network(hidden_type, sizes, *, seed=0, gain=1.0, beta=0.9, alpha=0.8, threshold=1.0) -> SpikingNetwork:
    """Build a ``hidden_type`` then Synaptic network for xylo-audio, with every weight scaled by ``gain``."""
    inputs, hidden, outputs = sizes
    shared = {"beta": beta, "alpha": alpha, "threshold": threshold, "reset": "subtract"}
    config = NetworkConfig(
        inputs,
        [LayerConfig("hidden", hidden_type, hidden, **shared), LayerConfig("output", "Synaptic", outputs, **shared)],
    )
    torch.manual_seed(seed)
    network = SpikingNetwork(config, load_target("xylo-audio"))
    with torch.no_grad():
        for module in network.modules():
            if isinstance(module, QuantLinear):
                module.weight.mul_(gain)
    return network


def compile_network(network: SpikingNetwork) -> IntegerGraph:
    checkpoint = Checkpoint(
        network=network.config,
        profile=network.context.profile,
        state_dict=network.state_dict(),
        encoding={"dataset": "random", "num_steps": 0},
        training={},
    )
    return compile_artifact(export_checkpoint(checkpoint))


def _weight_shift(dense: DenseOp, label: str) -> int:
    """Return XyloSim's left shift of a connection: minus its shift, which every neuron shares."""
    assert dense.bias is None, f"{label} has a bias"
    assert np.all(dense.multiplier == 1), f"{label} multiplier {dense.multiplier}"
    shift = int(dense.shift[0])
    assert np.all(dense.shift == shift), f"{label} shift differs across neurons: {dense.shift}"
    assert shift <= 0, f"{label} shift {shift} is a right shift"
    return -shift


def xylo_specification(graph: IntegerGraph) -> dict:
    """Translate a compiled xylo-audio graph into XyloSim.from_specification's arguments."""
    hidden, output = graph.layers
    size = hidden.size
    if hidden.recurrent is None:
        weights_rec = np.zeros((size, size, 1), dtype=np.int64)
        weight_shift_rec = 0
    else:
        weights_rec = hidden.recurrent.weight.T[:, :, None]
        weight_shift_rec = _weight_shift(hidden.recurrent, "hidden recurrent")
    return {
        "weights_in": hidden.dense.weight.T[:, :, None],
        "weights_rec": weights_rec,
        "weights_out": output.dense.weight.T,
        "weight_shift_in": _weight_shift(hidden.dense, "hidden dense"),
        "weight_shift_rec": weight_shift_rec,
        "weight_shift_out": _weight_shift(output.dense, "output dense"),
        "dash_mem": hidden.beta,
        "dash_syn": hidden.alpha,
        "dash_syn_2": np.ones(size, dtype=np.int64),
        "dash_mem_out": output.beta,
        "dash_syn_out": output.alpha,
        "threshold": hidden.threshold,
        "threshold_out": output.threshold,
        "bias": np.zeros(size, dtype=np.int64),
        "bias_out": np.zeros(output.size, dtype=np.int64),
    }


def assert_xylo_ranges(spec: dict) -> None:
    """Check that XyloSim represents every value: int8 weights, 4-bit dashes, int16 thresholds.

    XyloSim converts w << shift to int16, so a shift above 8 would wrap some int8 weights.
    """
    for name in ("weights_in", "weights_rec", "weights_out"):
        assert spec[name].min() >= -128, name
        assert spec[name].max() <= 127, name
    for name in ("weight_shift_in", "weight_shift_rec", "weight_shift_out"):
        assert 0 <= spec[name] <= 8, f"{name} {spec[name]}"
    for name in ("dash_mem", "dash_syn", "dash_mem_out", "dash_syn_out"):
        assert spec[name].min() >= 0, name
        assert spec[name].max() <= 15, name
    for name in ("threshold", "threshold_out"):
        assert spec[name].min() >= 0, name
        assert spec[name].max() <= INT16_MAX, name


def run_xylosim(spec: dict, raster: np.ndarray) -> dict[str, np.ndarray]:
    """Run one raster (time, inputs) on a fresh XyloSim; every trace is (time, neurons)."""
    arguments = {name: value if isinstance(value, int) else np.asarray(value, dtype=np.int64) for name, value in spec.items()}
    module = XyloSim.from_specification(**arguments)
    out, _, recording = module(raster.astype(np.int64), record=True)
    return {
        "hidden syn": recording["Isyn"],
        "hidden mem": recording["Vmem"],
        "hidden spikes": recording["Spikes"],
        "output syn": recording["Isyn_out"],
        "output mem": recording["Vmem_out"],
        "output spikes": out,
    }


def squat_traces(graph: IntegerGraph, raster: np.ndarray) -> dict[str, np.ndarray]:
    """Run one raster (time, inputs) in the simulator; every trace is (time, neurons), in XyloSim's names."""
    result = simulate(graph, raster[None])
    return {
        "hidden syn": result.syn[0][0],
        "hidden mem": result.mem[0][0],
        "hidden spikes": result.spikes[0][0],
        "output syn": result.syn[1][0],
        "output mem": result.mem[1][0],
        "output spikes": result.spikes[1][0],
    }


def first_difference(xylo: dict[str, np.ndarray], squat: dict[str, np.ndarray]) -> str | None:
    """Describe the first differing value, step by step, each step in the order the chip computes it."""
    steps = xylo["hidden mem"].shape[0]
    for step in range(steps):
        for name in xylo:
            expected = np.asarray(xylo[name][step]).astype(np.int64)
            actual = np.asarray(squat[name][step]).astype(np.int64)
            if expected.shape != actual.shape:
                return f"{name} at step {step}: XyloSim has shape {expected.shape}, squat-deploy {actual.shape}"
            differing = np.flatnonzero(expected != actual)
            if differing.size:
                neuron = int(differing[0])
                return (
                    f"{name} at step {step}, neuron {neuron}: XyloSim {expected[neuron]}, squat-deploy {actual[neuron]}"
                )
    return None


def random_raster(seed: int, steps: int, inputs: int, density: float, max_events: int) -> np.ndarray:
    """Event counts 1..max_events on about ``density`` of the (step, input) cells, 0 elsewhere."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, max_events + 1, size=(steps, inputs))
    return (counts * (rng.random((steps, inputs)) < density)).astype(np.uint8)


def dataset(raster: np.ndarray) -> SpikeDataset:
    return SpikeDataset(raster[None], np.zeros(1, dtype=np.int64), "random")


# --- squat-deploy against XyloSim ---------------------------------------------


@pytest.mark.parametrize("hidden_type", ["Synaptic", "RSynaptic"])
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**16),
    # At 1000 the weights clip to -128..127 at the largest shift, 8, so Isyn and Vmem saturate.
    gain=st.sampled_from([0.3, 1.0, 4.0, 40.0, 1000.0]),
    inputs=st.integers(1, 16),
    hidden=st.integers(1, 12),
    outputs=st.integers(1, 8),
    # 0.0 and 1.0 give dash 0 and dash 15, the ends of the 4-bit range.
    beta=st.one_of(st.sampled_from([0.0, 0.5, 0.9, 0.99, 1.0]), st.floats(0.0, 1.0)),
    alpha=st.one_of(st.sampled_from([0.0, 0.5, 0.8, 0.99, 1.0]), st.floats(0.0, 1.0)),
    # 0.001 gives the smallest threshold, 1, and 100.0 one of 25600.
    threshold=st.sampled_from([0.001, 0.25, 1.0, 4.0, 100.0]),
    steps=st.integers(1, 20),
    density=st.sampled_from([0.1, 0.4, 1.0]),
    max_events=st.sampled_from([1, 3, 15]),
)
def test_simulator_matches_xylosim(
    hidden_type, seed, gain, inputs, hidden, outputs, beta, alpha, threshold, steps, density, max_events
):
    network = make_network(
        hidden_type, (inputs, hidden, outputs), seed=seed, gain=gain, beta=beta, alpha=alpha, threshold=threshold
    )
    try:
        graph = compile_network(network)
    except WidthError as error:
        # An all-small weight matrix can round to zero, which the compiler rightly rejects.
        assume("rounds to zero" not in str(error))
        raise
    spec = xylo_specification(graph)
    raster = random_raster(seed, steps, inputs, density, max_events)

    assert_xylo_ranges(spec)
    difference = first_difference(run_xylosim(spec, raster), squat_traces(graph, raster))
    assert difference is None, difference
    report = verify(network, graph, dataset(raster))
    assert report.bit_exact, report.first_mismatch.describe()


@pytest.mark.parametrize("hidden_type", ["Synaptic", "RSynaptic"])
def test_saturating_network_matches_xylosim(hidden_type):
    """Drive Isyn and Vmem to the int16 limits: weights clipped to -128..127 at shift 8, 15 events per input.

    The threshold of 0.25 is 64 state LSBs, so a neuron at 32767 fires the most spikes, 31, and keeps 32767 - 31 * 64.
    """
    network = make_network(hidden_type, (16, 12, 8), seed=7, gain=1000.0, threshold=0.25)
    graph = compile_network(network)
    spec = xylo_specification(graph)
    raster = np.full((20, 16), 15, dtype=np.uint8)
    raster[5:10] = 0
    raster[12:, ::2] = 0
    xylo = run_xylosim(spec, raster)
    # Isyn is recorded after its decay, so a saturated current shows as the limit minus D(limit, dash_syn).
    dash_syn = spec["dash_syn"]
    decayed_low = INT16_MIN - (INT16_MIN >> dash_syn)
    decayed_high = INT16_MAX - np.maximum(INT16_MAX >> dash_syn, 1)

    difference = first_difference(xylo, squat_traces(graph, raster))
    report = verify(network, graph, dataset(raster))

    assert spec["weight_shift_in"] == 8
    assert spec["weights_in"].min() == -128
    assert spec["weights_in"].max() == 127
    assert np.any(xylo["hidden syn"] == decayed_low)
    assert np.any(xylo["hidden syn"] == decayed_high)
    assert np.any(xylo["hidden mem"] == INT16_MIN)
    assert np.any(xylo["hidden mem"] == INT16_MAX - 31 * 64)
    assert xylo["hidden spikes"].max() == 31
    assert difference is None, difference
    assert report.bit_exact, report.first_mismatch.describe()
