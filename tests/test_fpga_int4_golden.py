"""Hand-computed integer trajectories of one Leaky neuron on fpga-int4.

fpga-int4: state LSB 2**-5 (threshold 1.0 is 32), 8-bit decay constants
k / 256 applied as round_half_even(mem * k / 256), 8-bit current and state
that saturate at 127, comparator ">", reset by subtraction on the next step.
"""

from __future__ import annotations

import pytest
import torch

from squat_deploy.nn.context import Mode, QuantContext
from squat_deploy.nn.neurons import QLeaky
from squat_deploy.profiles import load_target


def run_leaky(beta: float, currents: list[int]) -> tuple[list[int], list[int]]:
    context = QuantContext(load_target("fpga-int4"), mode=Mode.TARGET)
    neuron = QLeaky(1, context, beta=beta, threshold=1.0, reset="subtract")
    first = torch.tensor([[currents[0]]], dtype=torch.int64)
    state = neuron.initial_state(1, first)
    mem, spikes = [], []
    for value in currents:
        spk, state = neuron(torch.tensor([[value]], dtype=torch.int64), state)
        mem.append(int(state.mem))
        spikes.append(int(spk))
    return mem, spikes


def test_half_even_decay_ties():
    # beta 0.5 is k = 128, so the decay halves and a .5 goes to the even side:
    # t1: 3 / 2 = 1.5 -> 2;  t2: 2 / 2 + 5 = 6;  t3: 6 / 2 = 3;
    # t4: 3 / 2 = 1.5 -> 2, 2 - 7 = -5;  t5: -5 / 2 = -2.5 -> -2.
    mem, spikes = run_leaky(0.5, [3, 0, 5, 0, -7, 0])
    assert mem == [3, 2, 6, 3, -5, -2]
    assert spikes == [0, 0, 0, 0, 0, 0]


def test_zero_decay_and_exact_threshold():
    # beta 0 is k = 0: the membrane is the step's current alone.
    # t0: 32 is exactly the threshold, so no spike with ">";
    # t1: 33 fires; t2: its reset subtracts 32 from 0 + 10.
    mem, spikes = run_leaky(0.0, [32, 33, 10])
    assert mem == [32, 33, -22]
    assert spikes == [0, 1, 0]


def test_largest_decay_saturates():
    # beta 1.0 clamps to k = 255 (decay.beta_max): 100 * 255 / 256 = 99.6 -> 100.
    # t0: 100 fires; t1: 100 + 100 - 32 = 168 saturates to 127 and fires again.
    mem, spikes = run_leaky(1.0, [100, 100])
    assert mem == [100, 127]
    assert spikes == [1, 1]


@pytest.mark.parametrize("beta, constant", [(0.0, 0), (0.5, 128), (1.0, 255)])
def test_decay_constant_ends(beta, constant):
    from squat_deploy.nn.arith import decay_constants

    profile = load_target("fpga-int4")
    assert decay_constants(torch.tensor(beta), profile, profile.beta_range).item() == constant
