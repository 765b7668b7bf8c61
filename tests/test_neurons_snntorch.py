"""Float-mode parity of the QAT neurons with snnTorch 1.0, bit for bit."""

import pytest
import snntorch as snn
import torch
from snntorch.functional import quant

from squat_deploy.nn.context import Mode, QuantContext
from squat_deploy.nn.neurons import NEURON_CLASSES, StateQuantSpec
from squat_deploy.profiles import load_target

SIZE = 5
BATCH = 3
STEPS = 20
RESETS = ["subtract", "zero", "none"]
# The per-neuron beta and alpha include values outside [0, 1] because both
# implementations clamp them.
PER_NEURON_BETA = [0.3, 0.8, 0.95, 1.0, 1.1]
PER_NEURON_ALPHA = [0.0, 0.5, 0.7, 0.9, -0.2]


def make_pair(neuron_type, reset, per_neuron, state_quant):
    """Build an snnTorch neuron and ours with the same parameters."""
    if per_neuron:
        beta = torch.tensor(PER_NEURON_BETA)
        alpha = torch.tensor(PER_NEURON_ALPHA)
    else:
        beta = torch.tensor(0.9)
        alpha = torch.tensor(0.8)

    theirs_quantizer = False  # snnTorch's default for no state quantizer
    spec = None
    if state_quant:
        theirs_quantizer = quant.state_quant(num_bits=4, uniform=False, thr_centered=True, threshold=1.0)
        spec = StateQuantSpec(num_bits=4)

    common = {"beta": beta.clone(), "reset_mechanism": reset, "state_quant": theirs_quantizer}
    recurrent = {"all_to_all": True, "linear_features": SIZE}
    if neuron_type == "Leaky":
        theirs = snn.Leaky(**common)
    elif neuron_type == "RLeaky":
        theirs = snn.RLeaky(**common, **recurrent)
    elif neuron_type == "Synaptic":
        theirs = snn.Synaptic(alpha=alpha.clone(), **common)
    else:
        theirs = snn.RSynaptic(alpha=alpha.clone(), **common, **recurrent)

    context = QuantContext(load_target("fpga-int8"))
    context.mode = Mode.FLOAT
    context.float_state_quant = state_quant
    ours = NEURON_CLASSES[neuron_type](SIZE, context, beta=beta.clone(), alpha=alpha.clone(), reset=reset, state_quant=spec)

    if ours.recurrent:
        with torch.no_grad():
            ours.recurrent_linear.weight.copy_(theirs.recurrent.weight)
            ours.recurrent_linear.bias.copy_(theirs.recurrent.bias)
    return theirs, ours


def step_theirs(neuron, neuron_type, current, state):
    """Advance snnTorch's neuron one step, with its tensors in the dict ``state``."""
    if neuron_type == "Leaky":
        spk, mem = neuron(current, state["mem"])
        return spk, {"mem": mem}
    if neuron_type == "RLeaky":
        spk, mem = neuron(current, state["spk"], state["mem"])
        return spk, {"spk": spk, "mem": mem}
    if neuron_type == "Synaptic":
        spk, syn, mem = neuron(current, state["syn"], state["mem"])
        return spk, {"syn": syn, "mem": mem}
    spk, syn, mem = neuron(current, state["spk"], state["syn"], state["mem"])
    return spk, {"spk": spk, "syn": syn, "mem": mem}


def run_parity(neuron_type, reset, per_neuron, state_quant, seed):
    """Drive both neurons with the same currents and compare every step.

    Returns the number of spikes, so a caller can check that the run
    exercised the reset.
    """
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)  # the recurrent weights of snnTorch's nn.Linear
    theirs, ours = make_pair(neuron_type, reset, per_neuron, state_quant)
    currents = torch.rand(STEPS, BATCH, SIZE, generator=generator) * 1.2 - 0.3

    zeros = torch.zeros(BATCH, SIZE)
    their_state = {"spk": zeros.clone(), "syn": zeros.clone(), "mem": zeros.clone()}
    our_state = ours.initial_state(BATCH, currents[0])
    spike_count = 0

    with torch.no_grad():
        for t in range(STEPS):
            their_spk, their_state = step_theirs(theirs, neuron_type, currents[t], their_state)
            our_spk, our_state = ours(currents[t], our_state)

            assert torch.equal(our_spk, their_spk), f"spk at step {t}"
            assert torch.equal(our_state.mem, their_state["mem"]), f"mem at step {t}"
            if ours.synaptic:
                assert torch.equal(our_state.syn, their_state["syn"]), f"syn at step {t}"
            spike_count += int(our_spk.sum())
    return spike_count


@pytest.mark.parametrize("per_neuron", [False, True], ids=["scalar", "per_neuron"])
@pytest.mark.parametrize("reset", RESETS)
@pytest.mark.parametrize("neuron_type", list(NEURON_CLASSES))
def test_float_parity_plain(neuron_type, reset, per_neuron):
    spike_count = run_parity(neuron_type, reset, per_neuron, state_quant=False, seed=1)

    assert spike_count > 0


@pytest.mark.parametrize("per_neuron", [False, True], ids=["scalar", "per_neuron"])
@pytest.mark.parametrize("reset", RESETS)
@pytest.mark.parametrize("neuron_type", list(NEURON_CLASSES))
def test_float_parity_state_quant(neuron_type, reset, per_neuron):
    spike_count = run_parity(neuron_type, reset, per_neuron, state_quant=True, seed=2)

    assert spike_count > 0


def test_state_quant_off_by_default():
    """Without float_state_quant the table must not apply in float mode."""
    context = QuantContext(load_target("fpga-int8"))
    context.mode = Mode.FLOAT
    neuron = NEURON_CLASSES["Leaky"](2, context, beta=0.5, state_quant=StateQuantSpec(num_bits=4))
    current = torch.tensor([[0.123, -0.456]])

    _, state = neuron(current, neuron.initial_state(1, current))

    assert torch.equal(state.mem, current)

    context.float_state_quant = True
    _, state = neuron(current, neuron.initial_state(1, current))

    assert not torch.equal(state.mem, current)
