"""The Loihi targets against Lava's bit-accurate Loihi 1 step.

``lava_run`` below is a reference written from Lava's ``PyDenseModelBitAcc``
and ``PyLifModelBitAcc`` (lava-nc/lava), in Lava's own parameters, and shares
no code with squat-deploy. Per neuron, in integers:

    Dense  a spike of step t is summed at step t and delivered at step t+1
           (step 0 delivers 0): a = sum of the weight columns of the spiking
           inputs, with even 8-bit weights w = 2q, then a << weight_exp.
    LIF    u = toward_zero(u * (4096 - (du + 1)) / 2**12) + (a << 6), wrapped
               to 24-bit two's complement
           v = toward_zero(v * (4096 - dv) / 2**12) + u, clipped to
               +-(2**23 - 1)
           spike = v > vth << 6; a spiking neuron's v becomes 0, u is kept.

The network input and a layer's own spikes (RLeaky, RSynaptic) reach a
layer through such a Dense too, so each arrives one step later.

An exported loihi1 artifact maps onto these parameters as w = 2q,
weight_exp = -shift - 7, du = 4095 - k_alpha (4095 for the Leaky types,
which keep no current), dv = 4096 - k_beta and vth = threshold >> 6.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from squat_deploy.checkpoint import Checkpoint
from squat_deploy.compiler import compile_artifact
from squat_deploy.data.digits import SpikeDataset
from squat_deploy.errors import WidthError
from squat_deploy.export import export_checkpoint
from squat_deploy.nn.linear import QuantLinear
from squat_deploy.nn.network import LayerConfig, NetworkConfig, SpikingNetwork
from squat_deploy.nn.neurons import NEURON_TYPES, StateQuantSpec
from squat_deploy.profiles import load_target
from squat_deploy.sim import simulate
from squat_deploy.verify import verify

LOIHI1 = load_target("loihi1")
LOIHI2 = load_target("loihi2")

STATE_LIMIT = (1 << 23) - 1  # v saturates at +-STATE_LIMIT
CURRENT_SPAN = 1 << 24  # u wraps modulo 2**24


# --- Reference: Lava's bit-accurate Loihi 1 Dense and LIF ---------------------


@dataclasses.dataclass
class LavaLayer:
    """Lava parameters of one Dense (plus an optional recurrent Dense) and its LIF population."""

    weights: np.ndarray  # (neurons, fan_in), even values 2q
    weight_exp: int
    du: int
    dv: int
    vth: int
    recurrent_weights: np.ndarray | None = None  # (neurons, neurons)
    recurrent_weight_exp: int = 0


@dataclasses.dataclass
class LavaTraces:
    """Traces of one layer's run, each array (batch, time, neurons), and how often u wrapped and v clipped."""

    spikes: np.ndarray
    u: np.ndarray
    v: np.ndarray
    wraps: int
    clips: int


def _decay(state: np.ndarray, factor: int) -> np.ndarray:
    product = state * factor
    return np.sign(product) * (np.abs(product) >> 12)


def lava_run(layers: list[LavaLayer], raster: np.ndarray) -> list[LavaTraces]:
    """Run a binary raster (batch, time, inputs) through ``layers``, one after the other."""
    incoming = raster.astype(np.int64)
    batch, steps, _ = incoming.shape
    traces = []
    for layer in layers:
        neurons = layer.weights.shape[0]
        u = np.zeros((batch, neurons), dtype=np.int64)
        v = np.zeros((batch, neurons), dtype=np.int64)
        delivered = np.zeros((batch, neurons), dtype=np.int64)  # feed-forward Dense output of step t-1
        delivered_recurrent = np.zeros((batch, neurons), dtype=np.int64)
        record = {name: np.zeros((batch, steps, neurons), dtype=np.int64) for name in ("spikes", "u", "v")}
        wraps = clips = 0
        for t in range(steps):
            a_in = delivered + delivered_recurrent
            delivered = (incoming[:, t] @ layer.weights.T) << layer.weight_exp

            unwrapped = _decay(u, 4096 - (layer.du + 1)) + (a_in << 6)
            # NOTE: Lava corrects once (u > 2**23 loses 2**24, u <= -2**23 gains 2**24), so it differs
            # from this two's complement wrap at u = +-2**23 and where one correction leaves u out of range.
            u = (unwrapped + (1 << 23)) % CURRENT_SPAN - (1 << 23)
            wraps += int((u != unwrapped).sum())
            unclipped = _decay(v, 4096 - layer.dv) + u
            v = np.clip(unclipped, -STATE_LIMIT, STATE_LIMIT)
            clips += int((v != unclipped).sum())
            spikes = v > (layer.vth << 6)
            v = np.where(spikes, 0, v)

            if layer.recurrent_weights is not None:
                delivered_recurrent = (spikes.astype(np.int64) @ layer.recurrent_weights.T) << layer.recurrent_weight_exp
            record["spikes"][:, t] = spikes
            record["u"][:, t] = u
            record["v"][:, t] = v
        traces.append(LavaTraces(record["spikes"], record["u"], record["v"], wraps, clips))
        incoming = record["spikes"]
    return traces


# --- squat-deploy models and their Lava parameters ---------------------------


def make_network(profile, hidden_type, *, seed=0, gain=1.0, sizes=(5, 4, 3), beta=0.9, threshold=1.0, reset="zero", **hidden):
    """Build a two-layer network, ``hidden_type`` then Leaky, with every dense weight scaled by ``gain``.

    ``beta``, ``threshold`` and ``reset`` apply to both layers, and
    ``hidden`` sets other fields of the hidden ``LayerConfig``.
    """
    inputs, hidden_size, outputs = sizes
    shared = {"beta": beta, "threshold": threshold, "reset": reset}
    config = NetworkConfig(
        inputs,
        [
            LayerConfig("hidden", hidden_type, hidden_size, **shared, **hidden),
            LayerConfig("output", "Leaky", outputs, **shared),
        ],
    )
    torch.manual_seed(seed)
    network = SpikingNetwork(config, profile)
    with torch.no_grad():
        for module in network.modules():
            if isinstance(module, QuantLinear):
                module.weight.mul_(gain)
    return network


def export_and_compile(network: SpikingNetwork):
    checkpoint = Checkpoint(
        network=network.config,
        profile=network.context.profile,
        state_dict=network.state_dict(),
        encoding={"dataset": "random", "num_steps": 0},
        training={},
    )
    artifact = export_checkpoint(checkpoint)
    return artifact, compile_artifact(artifact)


def _one_value(values: np.ndarray, label: str) -> int:
    """Return the value that every neuron shares.

    Lava sets du, dv, vth and weight_exp once per population or connection.
    """
    assert np.all(values == values.flat[0]), f"{label} differs across neurons: {values}"
    return int(values.flat[0])


def _lava_dense(artifact, entry: dict, label: str) -> tuple[np.ndarray, int]:
    assert entry["bias"] is None, f"{label} has a bias"
    multiplier = artifact.arrays[entry["multiplier"]]
    assert np.all(multiplier == 1), f"{label} multiplier {multiplier}"
    shift = _one_value(artifact.arrays[entry["shift"]], f"{label} shift")
    return 2 * artifact.arrays[entry["weight"]].astype(np.int64), -shift - 7


def lava_layers(artifact) -> list[LavaLayer]:
    """Translate an exported loihi1 artifact into Lava's parameters."""
    layers = []
    for entry in artifact.manifest["layers"]:
        name = entry["name"]
        weights, weight_exp = _lava_dense(artifact, entry["dense"], f"{name} dense")
        layer = LavaLayer(weights, weight_exp, du=4095, dv=0, vth=0)
        if entry["recurrent"] is not None:
            layer.recurrent_weights, layer.recurrent_weight_exp = _lava_dense(artifact, entry["recurrent"], f"{name} recurrent")
        if entry["alpha"] is not None:
            layer.du = 4095 - _one_value(artifact.arrays[entry["alpha"]], f"{name} alpha")
        layer.dv = 4096 - _one_value(artifact.arrays[entry["beta"]], f"{name} beta")
        threshold = _one_value(artifact.arrays[entry["threshold"]], f"{name} threshold")
        assert threshold % 64 == 0, f"{name} threshold {threshold} is not a mantissa shifted by 6"
        layer.vth = threshold >> 6
        layers.append(layer)
    return layers


def assert_lava_ranges(layer: LavaLayer) -> None:
    """Check Lava's Loihi 1 ranges: 8-bit even weights, exponent 0..7, 12-bit du and dv, 17-bit vth."""
    for weights in (layer.weights, layer.recurrent_weights):
        if weights is None:
            continue
        assert np.all(weights % 2 == 0)
        assert weights.min() >= -254
        assert weights.max() <= 254
    assert 0 <= layer.weight_exp <= 7
    assert 0 <= layer.recurrent_weight_exp <= 7
    assert 0 <= layer.du <= 4095
    assert 0 <= layer.dv <= 4095
    assert 0 <= layer.vth < 1 << 17


def assert_matches_lava(result, expected: list[LavaTraces]) -> None:
    """Require equal spikes, v (squat's mem) and u (squat's syn, where the layer keeps one) at every step."""
    for index, (name, reference) in enumerate(zip(result.layer_names, expected)):
        np.testing.assert_array_equal(result.spikes[index], reference.spikes, err_msg=f"{name} spikes")
        np.testing.assert_array_equal(result.mem[index], reference.v, err_msg=f"{name} v")
        if result.syn[index] is not None:
            np.testing.assert_array_equal(result.syn[index], reference.u, err_msg=f"{name} u")


def dataset(raster: np.ndarray) -> SpikeDataset:
    return SpikeDataset(raster, np.zeros(raster.shape[0], dtype=np.int64), "random")


# --- Lava reference against squat-deploy --------------------------------------


@st.composite
def rasters(draw):
    """Draw binary rasters (batch, time, 5), from sparse to every input on every step."""
    shape = (draw(st.integers(1, 4)), draw(st.integers(2, 16)), 5)
    if draw(st.booleans()):
        return draw(arrays(np.uint8, shape, elements=st.integers(0, 1), fill=st.nothing()))
    density = draw(st.sampled_from([0.2, 0.5, 0.8, 1.0]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return (rng.random(shape) < density).astype(np.uint8)


@pytest.mark.parametrize("hidden_type", NEURON_TYPES)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**16),
    # About half the examples at 1000, which clips every weight to +-127 at weight_exp 7
    # so that u can wrap and v saturate.
    gain=st.one_of(st.just(1000.0), st.sampled_from([0.3, 1.0, 4.0, 40.0])),
    # Below 2**-13 beta rounds to k_beta = 0, which has no dv; see test_loihi1_beta_has_lava_dv.
    beta=st.one_of(st.sampled_from([0.5, 0.9, 0.99, 1.0]), st.floats(0.001, 1.0)),
    alpha=st.one_of(st.sampled_from([0.0, 0.8, 0.99, 1.0]), st.floats(0.0, 1.0)),
    # The threshold scales with the weights; above 256 it clamps to vth = 2**17 - 1.
    threshold_ratio=st.sampled_from([0.01, 0.1, 0.5, 2.0]),
    raster=rasters(),
)
def test_simulator_matches_lava(hidden_type, seed, gain, beta, alpha, threshold_ratio, raster):
    network = make_network(
        LOIHI1, hidden_type, seed=seed, gain=gain, beta=beta, alpha=alpha, threshold=gain * threshold_ratio
    )
    artifact, graph = export_and_compile(network)
    lava = lava_layers(artifact)
    for layer in lava:
        assert_lava_ranges(layer)

    assert_matches_lava(simulate(graph, raster), lava_run(lava, raster))
    report = verify(network, graph, dataset(raster))
    assert report.bit_exact, report.first_mismatch.describe()


@pytest.mark.parametrize("hidden_type", NEURON_TYPES)
def test_wrap_and_saturation_match_lava(hidden_type):
    """Hidden weights q = +-127 at weight_exp 7 under constant input: u wraps, v clips at -(2**23 - 1)."""
    network = make_network(LOIHI1, hidden_type, seed=1, threshold=255.0)
    signs = torch.tensor([[1.0] * 5, [-1.0] * 5, [1.0, -1.0, 1.0, -1.0, 1.0], [-1.0, -1.0, 1.0, -1.0, -1.0]])
    with torch.no_grad():
        network.linears[0].weight.copy_(1000.0 * signs)
    artifact, graph = export_and_compile(network)
    lava = lava_layers(artifact)
    raster = np.ones((2, 12, 5), dtype=np.uint8)
    raster[1, ::3] = 0
    expected = lava_run(lava, raster)
    result = simulate(graph, raster)

    assert lava[0].weight_exp == 7
    assert expected[0].wraps > 0
    assert expected[0].clips > 0
    assert result.mem[0].min() == -STATE_LIMIT
    assert_matches_lava(result, expected)
    assert verify(network, graph, dataset(raster)).bit_exact


# --- One Synaptic neuron worked out by hand ------------------------------------
#
# Input weights q = [127, -105] at weight_exp 0 (Lava w = [254, -210]): a spike
# adds q << 7 to u, so 16256 and -13440. k_alpha = 3000 (du = 1095), k_beta =
# 2048 (dv = 2048), vth = 71, so the neuron fires when v > 71 << 6 = 4544.
# Input 1 spikes at step 0 and input 0 at step 1; each arrives a step later.
#
# t=0  a = 0 (the spike of step 0 is still in the Dense)  u = 0        v = 0
# t=1  a = -13440   u = 0 + -13440 = -13440                v = 0 + -13440 = -13440
# t=2  a = 16256    u = tz(-13440 * 3000 / 4096) = tz(-9843.75) = -9843, + 16256 = 6413
#                   v = -13440 * 2048 / 4096 = -6720, + 6413 = -307
# t=3  a = 0        u = tz(6413 * 3000 / 4096) = tz(4697.02) = 4697
#                   v = tz(-307 * 2048 / 4096) = tz(-153.5) = -153, + 4697 = 4544: equal, no spike
# t=4               u = tz(4697 * 3000 / 4096) = tz(3440.19) = 3440
#                   v = 4544 * 2048 / 4096 = 2272, + 3440 = 5712 > 4544: spike, v = 0, u kept
# t=5               u = tz(3440 * 3000 / 4096) = tz(2519.53) = 2519
#                   v = 0 + 2519 = 2519
#
# tz rounds toward zero, where floor would give -9844 at t=2 and -154 at t=3.
GOLDEN_RASTER = [[0, 1], [1, 0], [0, 0], [0, 0], [0, 0], [0, 0]]
GOLDEN_U = [0, -13440, 6413, 4697, 3440, 2519]
GOLDEN_V = [0, -13440, -307, 4544, 0, 2519]
GOLDEN_SPIKES = [0, 0, 0, 0, 1, 0]


def golden_network() -> SpikingNetwork:
    # A weight LSB of 2**-8 is 2**7 state LSBs (shift -7) when max|w| = 127 / 256.
    layer = LayerConfig("neuron", "Synaptic", 1, alpha=3000 / 4096, beta=0.5, threshold=71 / 512, reset="zero")
    config = NetworkConfig(2, [layer])
    network = SpikingNetwork(config, LOIHI1)
    with torch.no_grad():
        network.linears[0].weight.copy_(torch.tensor([[127 / 256, -105 / 256]]))
    return network


def test_golden_lava_parameters():
    artifact, _ = export_and_compile(golden_network())

    [layer] = lava_layers(artifact)

    assert layer.weights.tolist() == [[254, -210]]
    assert layer.weight_exp == 0
    assert layer.du == 1095
    assert layer.dv == 2048
    assert layer.vth == 71


def test_golden_simulator_trajectory():
    _, graph = export_and_compile(golden_network())

    result = simulate(graph, np.array([GOLDEN_RASTER], dtype=np.uint8))

    assert result.syn[0][0, :, 0].tolist() == GOLDEN_U
    assert result.mem[0][0, :, 0].tolist() == GOLDEN_V
    assert result.spikes[0][0, :, 0].tolist() == GOLDEN_SPIKES


def test_golden_reference_trajectory():
    layer = LavaLayer(np.array([[254, -210]]), weight_exp=0, du=1095, dv=2048, vth=71)

    [trace] = lava_run([layer], np.array([GOLDEN_RASTER], dtype=np.uint8))

    assert trace.u[0, :, 0].tolist() == GOLDEN_U
    assert trace.v[0, :, 0].tolist() == GOLDEN_V
    assert trace.spikes[0, :, 0].tolist() == GOLDEN_SPIKES


def test_golden_torch_target_exact():
    network = golden_network()
    _, graph = export_and_compile(network)

    report = verify(network, graph, dataset(np.array([GOLDEN_RASTER], dtype=np.uint8)))

    assert report.bit_exact, report.first_mismatch.describe()


# --- What each Loihi profile accepts ------------------------------------------


def test_loihi1_rejects_level_tables():
    network = make_network(LOIHI1, "Synaptic", state_quant=StateQuantSpec(num_bits=4))

    with pytest.raises(WidthError) as caught:
        export_and_compile(network)

    message = str(caught.value)
    assert "layer 'hidden'" in message
    assert "4-bit level index" in message
    assert "'loihi1' has no level tables" in message


def test_loihi1_rejects_subtract_reset():
    network = make_network(LOIHI1, "Synaptic", reset="subtract")

    with pytest.raises(WidthError) as caught:
        export_and_compile(network)

    message = str(caught.value)
    assert "reset 'subtract' is not supported by target 'loihi1'" in message
    assert "(supported: zero)" in message


def test_loihi1_rejects_bias():
    network = make_network(LOIHI1, "Synaptic", bias=True)

    with pytest.raises(WidthError) as caught:
        export_and_compile(network)

    message = str(caught.value)
    assert "layer 'hidden' dense weights" in message
    assert "has a bias" in message
    assert "'loihi1'" in message


def test_loihi1_beta_has_lava_dv():
    """beta = 0 exports k_beta = 0, i.e. dv = 4096, which Lava's 12-bit dv cannot hold.

    The export must either reject such a beta for loihi1 or produce a dv in 0..4095.
    """
    network = make_network(LOIHI1, "Leaky", beta=0.0)

    try:
        artifact, _ = export_and_compile(network)
    except WidthError as error:
        assert "beta" in str(error)
        return
    assert 0 <= lava_layers(artifact)[0].dv <= 4095


def test_loihi2_level_tables_bit_exact():
    spec = StateQuantSpec(num_bits=4)
    network = make_network(LOIHI2, "RSynaptic", seed=5, gain=4.0, reset="subtract", state_quant=spec)
    _, graph = export_and_compile(network)
    raster = (np.random.default_rng(5).random((6, 16, 5)) < 0.5).astype(np.uint8)

    report = verify(network, graph, dataset(raster))
    result = simulate(graph, raster)

    assert graph.layers[0].levels.size == 16
    assert np.isin(result.mem[0], graph.layers[0].levels).all()
    assert result.spikes[0].sum() > 0
    assert report.bit_exact, report.first_mismatch.describe()


def test_loihi2_rejects_excess_memory():
    """128 cores of 131072 bytes hold 16777216 bytes, and this model needs 24592 more.

    The synapses fill the 128 cores exactly (4096 * 4095 + 4096 = 16777216,
    one byte each), so only the memory limit is exceeded. The rest, in bytes:
      hidden (Synaptic, 4096 neurons): states 4096 * (24 + 24) bits = 24576,
        scale 8 bits = 1, alpha and beta 2 * 12 bits = 3, threshold 18 bits = 3
      output (Leaky, 1 neuron): state 24 bits = 3, scale 1, beta 12 bits = 2,
        threshold 18 bits = 3
    24576 + 1 + 3 + 3 + 3 + 1 + 2 + 3 = 24592.
    """
    network = make_network(LOIHI2, "Synaptic", sizes=(4095, 4096, 1))

    with pytest.raises(WidthError) as caught:
        export_and_compile(network)

    message = str(caught.value)
    assert "target 'loihi2'" in message
    assert "16801808 memory bytes" in message
    assert "128 core(s) hold 16777216" in message
    assert "24592 too many" in message
    assert "(129 cores needed)" in message
