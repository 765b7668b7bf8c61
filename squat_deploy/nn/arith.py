"""The three arithmetics a QAT neuron step runs in: float, fake-quantized, integer.

The neuron modules write their update once, in terms of the operations below;
the context's mode picks the arithmetic. In integer arithmetic a state is an
int64 count of state LSBs (``2**-state_frac_bits``). In the two float
arithmetics it is a float value in the model's own units.
"""

from __future__ import annotations

import torch

from squat_deploy.nn.surrogate import spike
from squat_deploy.quant.fixed import int_overflow, int_round_shift, ste_overflow, ste_round, straight_through
from squat_deploy.quant.levels import snap
from squat_deploy.quant.modes import Comparator, Overflow
from squat_deploy.profiles import TargetProfile


def quantize_decay(value: torch.Tensor, bits: int, limits: tuple[int, int]) -> torch.Tensor:
    """Return the integer decay constant ``k`` with ``value ~= k / 2**bits``.

    ``value`` is clamped to [0, 1] first (snnTorch's rule for beta and alpha)
    and ``k`` to ``limits``, the profile's ``beta_range`` or ``alpha_range``.
    """
    scaled = torch.round(value.detach().double().clamp(0, 1) * 2.0**bits)
    return scaled.clamp(*limits).long()


def decay_constants(value: torch.Tensor, profile: TargetProfile, limits: tuple[int, int]) -> torch.Tensor:
    """Return the integer decay constants of ``value`` for the profile's decay kind.

    ``multiply``: ``k`` with ``value ~= k / 2**bits``. ``subtract_shift``: the
    shift ``d`` of ``x - (x >> d)``, so ``value ~= 1 - 2**-d``. Both are clamped
    to ``limits``.
    """
    if profile.decay_kind == "multiply":
        return quantize_decay(value, profile.decay_bits, limits)
    remaining = (1 - value.detach().double().clamp(0, 1)).clamp(min=2.0**-40)
    return torch.round(-torch.log2(remaining)).clamp(*limits).long()


def subtract_shift_leak(x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Return ``x >> shift`` on integer values, made +-1 where it would be 0 for a nonzero ``x``."""
    leak = torch.floor(x / 2.0**shift) if x.is_floating_point() else x >> shift
    return torch.where((leak == 0) & (x != 0), torch.sign(x), leak)


def quantize_threshold(value: torch.Tensor, profile: TargetProfile) -> torch.Tensor:
    """Return the integer threshold in state LSBs.

    The threshold is a mantissa of ``threshold.bits`` (at least 1) shifted
    left by ``threshold.shift``, so it is a multiple of ``2**shift``.
    """
    shift = profile.threshold_shift
    mantissa = torch.round(value.detach().double() * 2.0 ** (profile.state_frac_bits - shift))
    return mantissa.clamp(1, 2 ** (profile.threshold_bits - 1) - 1).long() << shift


class FloatArith:
    """snnTorch's float arithmetic, with an optional float level table."""

    def __init__(self, levels: torch.Tensor | None):
        self.levels = levels

    def decay(self, state, factor, limits):
        return factor.clamp(0, 1) * state

    def threshold(self, threshold):
        return threshold

    def cast_current(self, x):
        return x

    def cast_state(self, x):
        return x

    def snap(self, x):
        return x if self.levels is None else snap(x, self.levels)

    def fire(self, mem, threshold, max_spikes=1):
        return spike(mem - threshold)

    def reset_signal(self, mem, threshold):
        return spike(mem - threshold).detach()


class FakeQuantArith:
    """Float arithmetic rounded to the target's grids, with straight-through gradients."""

    def __init__(self, profile: TargetProfile, levels: torch.Tensor | None):
        self.profile = profile
        self.lsbs = 2.0**profile.state_frac_bits
        self.levels = None if levels is None else levels / self.lsbs
        self.inclusive = profile.comparator is Comparator.GREATER_EQUAL

    def decay(self, state, factor, limits):
        profile = self.profile
        constants = decay_constants(factor, profile, limits)
        if profile.decay_kind == "subtract_shift":
            factor_q = straight_through(factor, (1 - 2.0 ** -constants.double()).to(factor.dtype))
            lsbs = state * self.lsbs
            exact = (lsbs.detach() - subtract_shift_leak(lsbs.detach(), constants)) / self.lsbs
            return straight_through(factor_q * state, exact)
        factor_q = straight_through(factor, constants.to(factor.dtype) / 2.0**profile.decay_bits)
        return ste_round(factor_q * state * self.lsbs, profile.decay_rounding) / self.lsbs

    def wrap_state(self, x):
        return ste_overflow(x * self.lsbs, self.profile.state_bits, Overflow.WRAP) / self.lsbs

    def threshold(self, threshold):
        return straight_through(threshold, quantize_threshold(threshold, self.profile).to(threshold.dtype) / self.lsbs)

    def cast_current(self, x):
        return ste_overflow(x * self.lsbs, self.profile.current_bits, self.profile.current_overflow) / self.lsbs

    def cast_state(self, x):
        return ste_overflow(x * self.lsbs, self.profile.state_bits, self.profile.state_overflow) / self.lsbs

    def snap(self, x):
        return x if self.levels is None else snap(x, self.levels)

    def fire(self, mem, threshold, max_spikes=1):
        first = spike(mem - threshold, inclusive=self.inclusive)
        if max_spikes == 1:
            return first
        # Further spikes of the step count without a gradient of their own. With
        # ">" a membrane of exactly k thresholds fires k - 1 times, so one LSB comes off.
        excess = mem.detach() - threshold.detach()
        if not self.inclusive:
            excess = excess - 1 / self.lsbs
        extra = torch.floor(excess / threshold.detach()).clamp(0, max_spikes - 1)
        return first + extra * first.detach()

    def reset_signal(self, mem, threshold):
        return spike(mem - threshold, inclusive=self.inclusive).detach()


class IntegerArith:
    """Exact integer arithmetic of the target profile, on int64 tensors.

    ``decay`` computes ``round_shift(state * k, decay_bits)`` with the decay
    rounding, ``cast_*`` apply the overflow mode of the width, and ``fire``
    compares with the integer threshold.
    """

    def __init__(self, profile: TargetProfile, levels: torch.Tensor | None):
        self.profile = profile
        self.levels = levels

    def decay(self, state, factor, limits):
        constant = decay_constants(factor, self.profile, limits)
        if self.profile.decay_kind == "subtract_shift":
            return state - subtract_shift_leak(state, constant)
        return int_round_shift(state * constant, self.profile.decay_bits, self.profile.decay_rounding)

    def wrap_state(self, x):
        return int_overflow(x, self.profile.state_bits, Overflow.WRAP)

    def threshold(self, threshold):
        return quantize_threshold(threshold, self.profile)

    def cast_current(self, x):
        return int_overflow(x, self.profile.current_bits, self.profile.current_overflow)

    def cast_state(self, x):
        return int_overflow(x, self.profile.state_bits, self.profile.state_overflow)

    def snap(self, x):
        return x if self.levels is None else snap(x, self.levels)

    def fire(self, mem, threshold, max_spikes=1):
        # Excess is >= 0 exactly when the comparator fires.
        excess = mem - threshold if self.profile.comparator is Comparator.GREATER_EQUAL else mem - threshold - 1
        if max_spikes == 1:
            return (excess >= 0).long()
        counts = (torch.div(excess, threshold, rounding_mode="floor") + 1).clamp(max=max_spikes)
        return torch.where(excess >= 0, counts, torch.zeros_like(counts))

    def reset_signal(self, mem, threshold):
        return self.fire(mem, threshold)
