"""Integer neuron steps in target mode against trajectories worked out by hand.

Profile fpga-int8: a state is a signed 16-bit count of 2**-10 LSBs, so the threshold
1.0 is 1024 and a neuron fires when mem > 1024. beta = 0.9 is k = 3686 and
alpha = 0.5 is k = 2048 (k / 4096), and decay(v) = floor(v * k / 4096), an
arithmetic shift. mem, and the synaptic current of the Synaptic types,
saturate at [-32768, 32767]. Every layer here has two neurons and batch 1.
"""

import pytest
import torch

from squat_deploy.nn.arith import quantize_decay, quantize_threshold
from squat_deploy.nn.context import Mode, QuantContext
from squat_deploy.nn.neurons import NEURON_CLASSES, StateQuantSpec
from squat_deploy.profiles import load_target

BETA = 0.9
ALPHA = 0.5

# Recurrent weights: neuron 0 excites neuron 1 and neuron 1 inhibits neuron 0.
# max|w| = 0.75 is 0.75 / 127 * 1024 = 6.05 state LSBs per weight LSB, rounded
# up to 2**3, so a weight LSB is 2**-7 and an integer weight q adds q << 3
# state LSBs. 0.75 -> 96 -> 768, -0.25 -> -32 -> -256, and the biases
# 0.0625 -> 8 -> 64 and -0.03125 -> -4 -> -32 arrive at every step.
RECURRENT_WEIGHT = [[0.0, -0.25], [0.75, 0.0]]
RECURRENT_BIAS = [0.0625, -0.03125]


@pytest.fixture(scope="module")
def profile():
    return load_target("fpga-int8")


def make_neuron(profile, neuron_type, reset, state_quant=None):
    context = QuantContext(profile)
    context.mode = Mode.TARGET
    neuron = NEURON_CLASSES[neuron_type](2, context, beta=BETA, alpha=ALPHA, reset=reset, state_quant=state_quant)
    if neuron.recurrent:
        with torch.no_grad():
            neuron.recurrent_linear.weight.copy_(torch.tensor(RECURRENT_WEIGHT))
            neuron.recurrent_linear.bias.copy_(torch.tensor(RECURRENT_BIAS))
    return neuron


def run_steps(neuron, currents):
    """Step ``neuron`` over ``currents`` (one row of two per step) and return its traces."""
    inputs = torch.tensor(currents, dtype=torch.int64)
    state = neuron.initial_state(1, inputs[0:1])
    traces = {"spk": [], "mem": [], "syn": []}
    for row in inputs:
        spk, state = neuron(row[None, :], state)
        assert spk.dtype == torch.int64
        assert state.mem.dtype == torch.int64
        traces["spk"].append(spk[0].tolist())
        traces["mem"].append(state.mem[0].tolist())
        if state.syn is not None:
            traces["syn"].append(state.syn[0].tolist())
    return traces


def test_integer_constants(profile):
    assert quantize_decay(torch.tensor(BETA), profile.decay_bits, profile.beta_range).item() == 3686  # round(3686.4)
    assert quantize_decay(torch.tensor(ALPHA), profile.decay_bits, profile.alpha_range).item() == 2048
    assert quantize_threshold(torch.tensor(1.0), profile).item() == 1024


def test_recurrent_integer_weights(profile):
    neuron = make_neuron(profile, "RLeaky", "subtract")

    params = neuron.recurrent_linear.integer()

    assert params.weight.tolist() == [[0, -32], [96, 0]]
    assert params.bias.tolist() == [8, -4]
    assert params.multiplier.tolist() == [1, 1]
    assert params.shift.tolist() == [-3, -3]  # a left shift by 3


# Input currents in state LSBs, one row [neuron 0, neuron 1] per step.
# Neuron 0 fires at step 1 and again later. Neuron 1 starts negative, decays
# and lands exactly on 1024 at step 2, which must not fire.
CURRENTS = {
    "Leaky": [[600, -500], [900, 0], [300, 1429], [1200, 200], [100, -50]],
    "Synaptic": [[600, -500], [900, 0], [300, 1779], [1200, -600], [100, -100]],
    "RLeaky": [[600, -500], [900, 0], [300, 748], [1200, 200], [100, -50]],
    "RSynaptic": [[600, -500], [900, 0], [300, 1137], [1200, -600], [100, -100]],
}

# Leaky, subtract:
#   t0: mem = [600, -500]
#   t1: n0 = floor(600 * 3686 / 4096) + 900 = 539 + 900 = 1439 > 1024, fires
#       n1 = floor(-500 * 3686 / 4096) = floor(-449.95) = -450
#   t2: n0 = floor(1439 * 3686 / 4096) + 300 - 1024 = 1294 + 300 - 1024 = 570
#       n1 = floor(-450 * 3686 / 4096) + 1429 = -405 + 1429 = 1024, no spike
#   t3: n0 = 512 + 1200 = 1712, fires; n1 = floor(921.5) + 200 = 1121, fires
#   t4: n0 = 1540 + 100 - 1024 = 616; n1 = 1008 - 50 - 1024 = -66
# Leaky, zero: the previous membrane is cleared before the decay, so the
# input survives: t2 n0 = 0 + 300, and t4 is [100, -50].
#
# Synaptic (syn = floor(syn / 2) + cur, mem = decay(mem) + syn):
#   t1: syn = [300 + 900, -250] = [1200, -250], mem = [539 + 1200, -450 - 250]
#   t2: syn0 = 600 + 300 = 900, mem0 = 1564 + 900 - 1024 = 1440
#       syn1 = -125 + 1779 = 1654, mem1 = floor(-700 * 3686 / 4096) + 1654 = -630 + 1654 = 1024
# Synaptic, zero: mem becomes 0 after a spike and syn keeps its value.
#
# RLeaky (recurrent current [64 - 256 * spk1, 768 * spk0 - 32] from the
# previous step's spikes):
#   t0: mem = [600 + 64, -500 - 32] = [664, -532]
#   t1: n0 = 597 + 900 + 64 = 1561, fires; n1 = floor(-478.75) - 32 = -511
#   t2: n0 = 1404 + 300 + 64 - 1024 = 744
#       n1 = floor(-459.85) + 748 + 768 - 32 = -460 + 1484 = 1024, no spike
#   t4: n0 = floor(1933 * 3686 / 4096) + 100 + 64 - 256 - 1024 = 623, the
#       spike of n1 at t3 arriving one step later
GOLDEN = {
    ("Leaky", "subtract"): {
        "spk": [[0, 0], [1, 0], [0, 0], [1, 1], [0, 0]],
        "mem": [[600, -500], [1439, -450], [570, 1024], [1712, 1121], [616, -66]],
    },
    ("Leaky", "zero"): {
        "spk": [[0, 0], [1, 0], [0, 0], [1, 1], [0, 0]],
        "mem": [[600, -500], [1439, -450], [300, 1024], [1469, 1121], [100, -50]],
    },
    ("Leaky", "none"): {
        "spk": [[0, 0], [1, 0], [1, 0], [1, 1], [1, 0]],
        "mem": [[600, -500], [1439, -450], [1594, 1024], [2634, 1121], [2470, 958]],
    },
    ("Synaptic", "subtract"): {
        "spk": [[0, 0], [1, 0], [1, 0], [1, 1], [1, 0]],
        "mem": [[600, -500], [1739, -700], [1440, 1024], [1921, 1148], [1629, 22]],
        "syn": [[600, -500], [1200, -250], [900, 1654], [1650, 227], [925, 13]],
    },
    ("Synaptic", "zero"): {
        "spk": [[0, 0], [1, 0], [0, 0], [1, 1], [0, 0]],
        "mem": [[600, -500], [1739, -700], [0, 1024], [1650, 1148], [0, 0]],
        "syn": [[600, -500], [1200, -250], [900, 1654], [1650, 227], [925, 13]],
    },
    ("Synaptic", "none"): {
        "spk": [[0, 0], [1, 0], [1, 0], [1, 1], [1, 1]],
        "mem": [[600, -500], [1739, -700], [2464, 1024], [3867, 1148], [4404, 1046]],
        "syn": [[600, -500], [1200, -250], [900, 1654], [1650, 227], [925, 13]],
    },
    ("RLeaky", "subtract"): {
        "spk": [[0, 0], [1, 0], [0, 0], [1, 1], [0, 0]],
        "mem": [[664, -532], [1561, -511], [744, 1024], [1933, 1089], [623, 641]],
    },
    ("RLeaky", "zero"): {
        "spk": [[0, 0], [1, 0], [0, 0], [1, 1], [0, 0]],
        "mem": [[664, -532], [1561, -511], [0, 1024], [1264, 1089], [0, 0]],
    },
    ("RLeaky", "none"): {
        "spk": [[0, 0], [1, 0], [1, 0], [1, 1], [1, 1]],
        "mem": [[664, -532], [1561, -511], [1768, 1024], [2855, 1857], [2477, 2357]],
    },
    ("RSynaptic", "subtract"): {
        "spk": [[0, 0], [1, 0], [1, 0], [1, 1], [1, 1]],
        "mem": [[664, -532], [1893, -777], [1691, 1024], [2267, 1919], [1809, 1837]],
        "syn": [[664, -532], [1296, -298], [1012, 1724], [1770, 998], [793, 1135]],
    },
    ("RSynaptic", "zero"): {
        "spk": [[0, 0], [1, 0], [0, 0], [1, 1], [0, 0]],
        "mem": [[664, -532], [1893, -777], [0, 1024], [1770, 1151], [0, 0]],
        "syn": [[664, -532], [1296, -298], [1012, 1724], [1770, 230], [793, 751]],
    },
    ("RSynaptic", "none"): {
        "spk": [[0, 0], [1, 0], [1, 0], [1, 1], [1, 1]],
        "mem": [[664, -532], [1893, -777], [2715, 1024], [4213, 1919], [4584, 2861]],
        "syn": [[664, -532], [1296, -298], [1012, 1724], [1770, 998], [793, 1135]],
    },
}


@pytest.mark.parametrize(("neuron_type", "reset"), list(GOLDEN), ids=lambda value: str(value))
def test_golden_trajectory(profile, neuron_type, reset):
    neuron = make_neuron(profile, neuron_type, reset)
    expected = GOLDEN[(neuron_type, reset)]

    traces = run_steps(neuron, CURRENTS[neuron_type])

    assert traces["mem"] == expected["mem"]
    assert traces["spk"] == expected["spk"]
    if neuron.synaptic:
        assert traces["syn"] == expected["syn"]
    else:
        assert traces["syn"] == []


def test_threshold_equal_no_spike(profile):
    neuron = make_neuron(profile, "Leaky", "subtract")

    traces = run_steps(neuron, [[1024, 1025], [0, 0]])

    assert traces["spk"][0] == [0, 1]
    # No reset for 1024: floor(1024 * 3686 / 4096) = floor(921.5) = 921.
    # 1025 fired: floor(1025 * 3686 / 4096) - 1024 = 922 - 1024 = -102.
    assert traces["mem"][1] == [921, -102]


def test_negative_decay_floors(profile):
    neuron = make_neuron(profile, "Leaky", "none")

    traces = run_steps(neuron, [[-300, -1], [0, 0], [0, 0]])

    # floor(-300 * 3686 / 4096) = floor(-269.97) = -270, then
    # floor(-270 * 3686 / 4096) = floor(-242.97) = -243. A state of -1 stays
    # at floor(-0.9) = -1 because floor rounds toward minus infinity.
    assert [row[0] for row in traces["mem"]] == [-300, -270, -243]
    assert [row[1] for row in traces["mem"]] == [-1, -1, -1]


# Two uniform bits over [-1, 1.2]: float32 linspace levels -1, -0.26666668,
# 0.46666667, 1.2 times 1024 round to -1024, -273, 478, 1229.
TWO_BIT_LEVELS = [-1024, -273, 478, 1229]
LEVEL_CURRENTS = [[500, -200], [500, -900], [0, 300], [0, 500], [0, 0]]


def test_level_table_leaky(profile):
    neuron = make_neuron(profile, "Leaky", "subtract", StateQuantSpec(num_bits=2, scheme="uniform"))

    traces = run_steps(neuron, LEVEL_CURRENTS)

    assert neuron.integer_levels.tolist() == TWO_BIT_LEVELS
    # t0: 500 -> 478 (22 away), -200 -> -273 (73 away)
    # t1: decay(478) + 500 = 430 + 500 = 930 -> 1229, fires
    #     decay(-273) - 900 = -246 - 900 = -1146 -> -1024
    # t2: decay(1229) - 1024 = 1105 - 1024 = 81 -> -273
    #     decay(-1024) + 300 = -922 + 300 = -622 -> -273
    # t3: decay(-273) = -246 -> -273; -246 + 500 = 254 -> 478
    assert traces["mem"] == [[478, -273], [1229, -1024], [-273, -273], [-273, 478], [-273, 478]]
    assert traces["spk"] == [[0, 0], [1, 0], [0, 0], [0, 0], [0, 0]]


def test_level_table_synaptic(profile):
    neuron = make_neuron(profile, "Synaptic", "subtract", StateQuantSpec(num_bits=2, scheme="uniform"))

    traces = run_steps(neuron, LEVEL_CURRENTS)

    # syn snaps too, but mem adds the unsnapped syn of the step, as snnTorch does.
    # t1: syn0 = floor(478 / 2) + 500 = 739 -> 478
    #     mem0 = decay(478) + 739 = 430 + 739 = 1169 -> 1229, fires
    # t2: syn0 = 239 -> 478; mem0 = decay(1229) + 239 - 1024 = 320 -> 478
    assert traces["syn"] == [[478, -273], [478, -1024], [478, -273], [478, 478], [478, 478]]
    assert traces["mem"] == [[478, -273], [1229, -1024], [478, -1024], [478, -273], [478, -273]]
    assert traces["spk"] == [[0, 0], [1, 0], [0, 0], [0, 0], [0, 0]]


SATURATING_CURRENTS = [[30000, -30000], [30000, -30000], [0, 0], [0, 0], [0, 0]]


def test_saturation_leaky(profile):
    neuron = make_neuron(profile, "Leaky", "subtract")

    traces = run_steps(neuron, SATURATING_CURRENTS)

    # t1: decay(30000) + 30000 - 1024 = 26997 + 28976 = 55973 -> 32767
    #     decay(-30000) - 30000 = -26998 - 30000 = -56998 -> -32768
    # t2: decay(32767) - 1024 = 29487 - 1024 = 28463; decay(-32768) = -29488
    assert traces["mem"] == [[30000, -30000], [32767, -32768], [28463, -29488], [24589, -26537], [21103, -23881]]
    assert traces["spk"] == [[1, 0], [1, 0], [1, 0], [1, 0], [1, 0]]


def test_saturation_synaptic_current(profile):
    neuron = make_neuron(profile, "Synaptic", "subtract")

    traces = run_steps(neuron, SATURATING_CURRENTS)

    # t1: syn0 = 15000 + 30000 = 45000 -> 32767, then halves each step.
    # mem0 stays at 32767 while decay(32767) + syn0 - 1024 = 29487 + syn0 - 1024
    # exceeds it, and at t4 it is 29487 + 4095 - 1024 = 32558.
    assert traces["syn"] == [[30000, -30000], [32767, -32768], [16383, -16384], [8191, -8192], [4095, -4096]]
    assert traces["mem"] == [[30000, -30000], [32767, -32768], [32767, -32768], [32767, -32768], [32558, -32768]]
    assert traces["spk"] == [[1, 0], [1, 0], [1, 0], [1, 0], [1, 0]]
