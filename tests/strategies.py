"""Seeded hypothesis strategies shared by the property tests."""

from __future__ import annotations

import dataclasses

from hypothesis import strategies as st

from squat_deploy.nn.network import LayerConfig, NetworkConfig
from squat_deploy.nn.neurons import NEURON_TYPES, StateQuantSpec
from squat_deploy.profiles import load_target
from squat_deploy.quant.levels import LevelScheme
from squat_deploy.quant.modes import Comparator, Overflow, Reset, Rounding


@st.composite
def profiles(draw, event_synapse: bool = True):
    """Variants of the fpga-int8 profile with every arithmetic choice drawn.

    ``event_synapse`` allows the synaptic current that adds events one at a
    time, which the fake-quantized training path only approximates.
    """
    base = load_target("fpga-int8")
    state_bits = draw(st.integers(8, 16))
    frac_bits = draw(st.integers(3, state_bits - 3))
    decay_kind = draw(st.sampled_from(["multiply", "subtract_shift"]))
    decay_bits = draw(st.integers(2, 12)) if decay_kind == "multiply" else 4
    reset_timing = draw(st.sampled_from(["next_step", "same_step"]))
    synapses = ["decay_then_add", "add_events_then_decay"] if event_synapse else ["decay_then_add"]
    threshold_shift = draw(st.integers(0, 2))
    min_shift = draw(st.integers(-12, 0))
    return dataclasses.replace(
        base,
        weight_bits=draw(st.integers(2, 8)),
        weight_narrow_range=draw(st.booleans()),
        weight_scale=draw(st.sampled_from(["power_of_two", "multiplier_shift"])),
        multiplier_bits=draw(st.integers(2, 10)),
        weight_granularity=draw(st.sampled_from(["per_tensor", "per_channel"])),
        current_bits=draw(st.integers(state_bits - 2, 16)),
        current_overflow=draw(st.sampled_from(list(Overflow))),
        state_bits=state_bits,
        state_frac_bits=frac_bits,
        state_overflow=draw(st.sampled_from(list(Overflow))),
        rescale_rounding=draw(st.sampled_from(list(Rounding))),
        weight_min_shift=min_shift,
        weight_max_shift=draw(st.integers(min_shift, 12)),
        decay_kind=decay_kind,
        decay_bits=decay_bits,
        decay_rounding=draw(st.sampled_from(list(Rounding))),
        beta_min=draw(st.integers(0, 1)),
        beta_max=draw(st.sampled_from([(1 << decay_bits) - 1, 1 << decay_bits])),
        alpha_max=draw(st.sampled_from([(1 << decay_bits) - 2, (1 << decay_bits) - 1])),
        threshold_bits=draw(st.integers(frac_bits + 3 - threshold_shift, 16)),
        threshold_shift=threshold_shift,
        comparator=draw(st.sampled_from(list(Comparator))),
        reset_timing=reset_timing,
        synapse=draw(st.sampled_from(synapses)),
        saturate_increment=draw(st.booleans()),
        max_spikes=draw(st.integers(1, 4)) if reset_timing == "same_step" else 1,
        max_spikes_output=draw(st.integers(1, 2)) if reset_timing == "same_step" else 1,
        input_delay=draw(st.integers(0, 1)),
        dense_delay=draw(st.integers(0, 1)),
    )


@st.composite
def state_specs(draw):
    if draw(st.booleans()):
        return None
    return StateQuantSpec(
        num_bits=draw(st.integers(1, 5)),
        scheme=draw(st.sampled_from(list(LevelScheme))),
        lower_limit=draw(st.sampled_from([0.0, 0.5, 1.0])),
        upper_limit=draw(st.sampled_from([0.2, 0.5])),
    )


@st.composite
def layer_configs(draw, name: str, size: int):
    return LayerConfig(
        name=name,
        neuron_type=draw(st.sampled_from(NEURON_TYPES)),
        size=size,
        bias=draw(st.booleans()),
        beta=draw(st.floats(0.0, 1.0)),
        alpha=draw(st.floats(0.0, 1.0)),
        threshold=draw(st.floats(0.25, 2.0)),
        reset=draw(st.sampled_from([reset.value for reset in Reset])),
        state_quant=draw(state_specs()),
    )


@st.composite
def network_configs(draw):
    input_size = draw(st.integers(1, 6))
    hidden = draw(st.integers(1, 6))
    outputs = draw(st.integers(1, 4))
    return NetworkConfig(
        input_size,
        [draw(layer_configs("hidden", hidden)), draw(layer_configs("output", outputs))],
    )
