"""Numba kernels of the integer neuron step.

These kernels are written from the compiled graph's contract alone and share
no code with the torch modules, so that ``verify`` compares two independent
implementations. All arithmetic is on int64 scalars. Symbols:

    acc       accumulator: sum_j W[i, j] * x[j] + b[i]
    cur       acc rescaled to state LSBs: round_shift(acc * m[i], sh[i])
    k_beta    membrane decay constant, beta = k_beta / 2**decay_bits
    k_alpha   synaptic decay constant, alpha = k_alpha / 2**decay_bits
    thr       threshold in state LSBs
    L         level table (sorted); a quantized state is stored as an index

The kernels take the modes of ``squat_deploy.quant.modes`` as integer codes:

    rounding    0 floor, 1 toward zero, 2 half up, 3 half down,
                4 half toward zero, 5 half away from zero, 6 half even
    overflow    0 saturate, 1 symmetric saturate, 2 wrap
    comparator  0 ``>``, 1 ``>=``
    reset       0 subtract, 1 zero, 2 none
    decay kind  0 multiply and shift, 1 subtract a shifted copy
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, inline="always")
def round_shift(value, shift, rounding):
    """Divide ``value`` by ``2**shift`` with ``rounding``; multiply when ``shift <= 0``."""
    if shift <= 0:
        return value << (-shift)
    half = np.int64(1) << (shift - 1)
    if rounding == 0:
        return value >> shift
    if rounding == 1:
        if value < 0:
            return -((-value) >> shift)
        return value >> shift
    if rounding == 2:
        return (value + half) >> shift
    if rounding == 3:
        return -((half - value) >> shift)
    if rounding == 4:
        if value < 0:
            return -((-value + half - 1) >> shift)
        return (value + half - 1) >> shift
    if rounding == 5:
        if value < 0:
            return -((-value + half) >> shift)
        return (value + half) >> shift
    # half even
    quotient = value >> shift
    remainder = value - (quotient << shift)
    if remainder > half or (remainder == half and (quotient & 1) == 1):
        quotient += 1
    return quotient


@numba.njit(cache=True, inline="always")
def fit_width(value, bits, overflow):
    """Bring ``value`` into a signed ``bits``-wide range by saturating or wrapping."""
    high = (np.int64(1) << (bits - 1)) - 1
    low = -high - 1
    if overflow == 2:
        span = np.int64(1) << bits
        wrapped = (value - low) % span
        return wrapped + low
    if overflow == 1:
        low = -high
    if value > high:
        return high
    if value < low:
        return low
    return value


@numba.njit(cache=True, inline="always")
def nearest_level(value, levels):
    """Return the index of the level nearest ``value``; a tie takes the lower index."""
    count = levels.shape[0]
    if value <= levels[0]:
        return 0
    if value >= levels[count - 1]:
        # The first index holding the top value.
        index = count - 1
        while index > 0 and levels[index - 1] == levels[index]:
            index -= 1
        return index
    low = 0
    high = count - 1
    # Invariant: levels[low] < value <= levels[high]
    while high - low > 1:
        middle = (low + high) // 2
        if levels[middle] < value:
            low = middle
        else:
            high = middle
    if value - levels[low] <= levels[high] - value:
        while low > 0 and levels[low - 1] == levels[low]:
            low -= 1
        return low
    return high


@numba.njit(cache=True, inline="always")
def fires(mem, threshold, comparator):
    if comparator == 1:
        return mem >= threshold
    return mem > threshold


@numba.njit(cache=True, inline="always")
def spike_count(mem, threshold, comparator, max_spikes):
    """Return how many spikes ``mem`` fires: once per threshold it clears, at most ``max_spikes``."""
    excess = mem - threshold if comparator == 1 else mem - threshold - 1
    if excess < 0:
        return 0
    count = excess // threshold + 1
    return count if count < max_spikes else max_spikes


@numba.njit(cache=True, inline="always")
def decay_value(value, constant, kind, bits, rounding):
    """Decay ``value``: ``round_shift(value * k, bits)`` (kind 0) or ``value - (value >> d)`` (kind 1)."""
    if kind == 0:
        return round_shift(value * constant, bits, rounding)
    leak = value >> constant
    if leak == 0 and value != 0:
        leak = 1 if value > 0 else -1
    return value - leak


@numba.njit(cache=True, parallel=True)
def run_layer(
    inputs,  # (batch, time, fan_in) int64 event counts
    weight,  # (neurons, fan_in) int64
    bias,  # (neurons,) int64; zeros when the layer has none
    multiplier,  # (neurons,) int64
    shift,  # (neurons,) int64
    recurrent_weight,  # (neurons, neurons) int64; ignored unless has_recurrent
    recurrent_bias,  # (neurons,) int64
    recurrent_multiplier,  # (neurons,) int64
    recurrent_shift,  # (neurons,) int64
    k_beta,  # (neurons,) int64
    k_alpha,  # (neurons,) int64; ignored unless has_synapse
    threshold,  # (neurons,) int64
    levels,  # (n_levels,) int64; ignored unless has_levels
    has_recurrent,
    has_synapse,
    has_levels,
    reset,
    zero_before_decay,
    reset_same_step,
    comparator,
    rescale_rounding,
    decay_kind,
    decay_bits,
    decay_rounding,
    current_bits,
    current_overflow,
    state_bits,
    state_overflow,
    input_delay,
    synapse_events,
    saturate_increment,
    max_spikes,
):
    """Run one layer over every sample and step.

    Returns ``(spikes, mem, syn, mem_index)``, each (batch, time, neurons);
    ``syn`` is zero without a synapse and ``mem_index`` is -1 without levels.
    """
    batch, steps, fan_in = inputs.shape
    neurons = weight.shape[0]
    spikes = np.zeros((batch, steps, neurons), dtype=np.uint8)
    mem_trace = np.zeros((batch, steps, neurons), dtype=np.int64)
    syn_trace = np.zeros((batch, steps, neurons), dtype=np.int64)
    index_trace = np.full((batch, steps, neurons), -1, dtype=np.int64)

    for b in numba.prange(batch):
        mem = np.zeros(neurons, dtype=np.int64)
        syn = np.zeros(neurons, dtype=np.int64)
        last_spikes = np.zeros(neurons, dtype=np.int64)
        current = np.zeros(neurons, dtype=np.int64)
        feedback = np.zeros(neurons, dtype=np.int64)
        for t in range(steps):
            source = t - input_delay
            feedback[:] = 0
            if synapse_events:
                # Every input's events add into the synaptic current and are
                # cast at once, in ascending input order, then the recurrent ones.
                for i in range(neurons):
                    syn[i] = fit_width(syn[i] + bias[i], current_bits, current_overflow) if bias[i] != 0 else syn[i]
                if source >= 0:
                    for j in range(fan_in):
                        events = inputs[b, source, j]
                        if events != 0:
                            for i in range(neurons):
                                added = round_shift(weight[i, j] * events * multiplier[i], shift[i], rescale_rounding)
                                syn[i] = fit_width(syn[i] + added, current_bits, current_overflow)
                if has_recurrent:
                    for i in range(neurons):
                        if recurrent_bias[i] != 0:
                            syn[i] = fit_width(syn[i] + recurrent_bias[i], current_bits, current_overflow)
                    for j in range(neurons):
                        if last_spikes[j] != 0:
                            for i in range(neurons):
                                added = round_shift(
                                    recurrent_weight[i, j] * last_spikes[j] * recurrent_multiplier[i],
                                    recurrent_shift[i],
                                    rescale_rounding,
                                )
                                syn[i] = fit_width(syn[i] + added, current_bits, current_overflow)
                for i in range(neurons):
                    current[i] = 0
            else:
                # Feed-forward accumulation over the events of this step only.
                for i in range(neurons):
                    current[i] = bias[i]
                if source >= 0:
                    for j in range(fan_in):
                        events = inputs[b, source, j]
                        if events != 0:
                            for i in range(neurons):
                                current[i] += weight[i, j] * events
                for i in range(neurons):
                    current[i] = round_shift(current[i] * multiplier[i], shift[i], rescale_rounding)
                if has_recurrent:
                    for i in range(neurons):
                        feedback[i] = recurrent_bias[i]
                    for j in range(neurons):
                        if last_spikes[j] != 0:
                            for i in range(neurons):
                                feedback[i] += recurrent_weight[i, j] * last_spikes[j]
                    for i in range(neurons):
                        feedback[i] = round_shift(
                            feedback[i] * recurrent_multiplier[i], recurrent_shift[i], rescale_rounding
                        )

            for i in range(neurons):
                # With a same-step reset the previous state is already reset.
                was_above = (not reset_same_step) and fires(mem[i], threshold[i], comparator)
                previous = mem[i]
                if reset == 1 and zero_before_decay and was_above:
                    previous = 0
                decayed = decay_value(previous, k_beta[i], decay_kind, decay_bits, decay_rounding)
                if has_synapse and synapse_events:
                    synapse = decay_value(syn[i], k_alpha[i], decay_kind, decay_bits, decay_rounding)
                elif has_synapse:
                    synapse = decay_value(syn[i], k_alpha[i], decay_kind, decay_bits, decay_rounding)
                    synapse = fit_width(synapse + current[i] + feedback[i], current_bits, current_overflow)
                else:
                    synapse = fit_width(current[i] + feedback[i], current_bits, current_overflow)
                if saturate_increment:
                    # The increment -leak + synapse is cast to the state width first;
                    # negating the leak wraps, as a 16-bit negation does.
                    increment = fit_width(fit_width(decayed - previous, state_bits, 2) + synapse, state_bits, state_overflow)
                    value = previous + increment
                else:
                    value = decayed + synapse
                if was_above:
                    if reset == 0:
                        value -= threshold[i]
                    elif reset == 1 and not zero_before_decay:
                        value = 0
                value = fit_width(value, state_bits, state_overflow)
                index = -1
                if has_levels:
                    index = nearest_level(value, levels)
                    value = levels[index]
                    if has_synapse:
                        synapse = levels[nearest_level(synapse, levels)]
                count = spike_count(value, threshold[i], comparator, max_spikes)
                if reset_same_step and count > 0 and reset != 2:
                    if reset == 0:
                        value = fit_width(value - count * threshold[i], state_bits, state_overflow)
                    else:
                        value = 0
                    if has_levels:
                        index = nearest_level(value, levels)
                        value = levels[index]
                index_trace[b, t, i] = index
                mem[i] = value
                if has_synapse:
                    syn[i] = synapse
                last_spikes[i] = count
                spikes[b, t, i] = count
                mem_trace[b, t, i] = value
                syn_trace[b, t, i] = syn[i]
    return spikes, mem_trace, syn_trace, index_trace
