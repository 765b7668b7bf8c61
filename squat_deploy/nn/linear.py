"""Quantized dense connections.

A weight ``w`` is stored as a signed ``weight_bits`` integer ``q`` with a
scale ``s`` (per tensor or per output channel): ``w ~= q * s``. The scale is
expressed in state LSBs as ``multiplier * 2**-shift``, so the integer current
that a layer adds to its neurons' state is

    acc = sum_j q[i, j] * x[j] + bias_q[i]            (accumulator width)
    cur = round_shift(acc * multiplier[i], shift[i])  (state LSBs)

where ``round_shift`` divides by ``2**shift`` with the profile's rescale
rounding, or multiplies by ``2**-shift`` when ``shift`` is negative. With a
power-of-two scale the multiplier is 1.
"""

from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F
from torch import nn

from squat_deploy.nn.context import Mode, QuantContext
from squat_deploy.quant.fixed import int_overflow, int_range, int_round_shift, ste_round, straight_through
from squat_deploy.profiles import TargetProfile


@dataclasses.dataclass
class IntegerLinear:
    """Integer parameters of one dense connection (int64 tensors)."""

    weight: torch.Tensor  # (out, in), weight_bits signed
    bias: torch.Tensor | None  # (out,), accumulator LSBs
    multiplier: torch.Tensor  # (out,), unsigned
    shift: torch.Tensor  # (out,), right shift; negative is a left shift
    scale: torch.Tensor  # (out,), float64 value of one weight LSB in float units


def weight_scale(weight: torch.Tensor, profile: TargetProfile) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Choose the scale of ``weight`` on the grid the target can express.

    Returns ``(multiplier, shift, scale)`` per output channel, with ``scale``
    (float64, float units) equal to ``multiplier * 2**-shift`` state LSBs. The
    scale is the smallest expressible one at or above ``max|w| / weight_max``
    (rounded to nearest for a multiplier), so weights clip at most by one LSB,
    unless the profile's shift range forces a coarser or finer scale.
    """
    weight = weight.detach().to(torch.float64)
    if profile.weight_granularity == "per_channel":
        magnitude = weight.abs().amax(dim=1)
    else:
        magnitude = weight.abs().amax().expand(weight.shape[0])
    magnitude = magnitude.clamp(min=1e-12)
    state_lsbs = magnitude / profile.weight_max * 2.0**profile.state_frac_bits
    exponent = torch.ceil(torch.log2(state_lsbs))

    if profile.weight_scale == "power_of_two":
        multiplier = torch.ones_like(exponent)
        shift = (-exponent).clamp(profile.weight_min_shift, profile.weight_max_shift)
    else:
        bits = profile.multiplier_bits
        shift = bits - exponent
        multiplier = torch.round(state_lsbs * 2.0**shift)
        overflowing = multiplier >= 2.0**bits
        multiplier = torch.where(overflowing, torch.floor(multiplier / 2), multiplier)
        shift = torch.where(overflowing, shift - 1, shift)
        clamped = shift.clamp(profile.weight_min_shift, profile.weight_max_shift)
        multiplier = torch.round(multiplier * 2.0 ** (clamped - shift)).clamp(1, 2.0**bits - 1)
        shift = clamped

    scale = multiplier * 2.0 ** (-shift - profile.state_frac_bits)
    return multiplier.long(), shift.long(), scale


class QuantLinear(nn.Module):
    """A dense layer whose weights and bias are fake-quantized to the target grid."""

    def __init__(self, in_features: int, out_features: int, context: QuantContext, bias: bool = True):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.context = context
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        self.bias = nn.Parameter(torch.empty(out_features)) if bias else None
        bound = 1 / math.sqrt(in_features)
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.uniform_(self.bias, -bound, bound)
        # Integer parameters frozen for a whole target-mode sequence.
        self.frozen: IntegerLinear | None = None

    def integer(self) -> IntegerLinear:
        """Quantize the current weights to integers (no gradient)."""
        profile = self.context.profile
        multiplier, shift, scale = weight_scale(self.weight, profile)
        weight = torch.round(self.weight.detach().double() / scale[:, None])
        weight = weight.clamp(profile.weight_min, profile.weight_max).long()
        bias = None
        if self.bias is not None:
            low, high = int_range(profile.accumulator_bits)
            bias = torch.round(self.bias.detach().double() / scale).clamp(low, high).long()
        return IntegerLinear(weight, bias, multiplier, shift, scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mode = self.context.mode
        if mode is Mode.FLOAT:
            return F.linear(x, self.weight, self.bias)
        if mode is Mode.TARGET:
            return self._forward_integer(x)
        return self._forward_fake_quant(x)

    def _forward_fake_quant(self, x: torch.Tensor) -> torch.Tensor:
        profile = self.context.profile
        if not self.context.weight_qat:
            # Float weights; the current still lands on the state grid.
            current = F.linear(x, self.weight, self.bias)
            grid = self.context.grid
            return ste_round(current / grid, profile.rescale_rounding) * grid
        with torch.no_grad():
            _, shift, scale = weight_scale(self.weight, profile)
        scale = scale.to(self.weight.dtype)
        weight_lsbs = self.weight / scale[:, None]
        rounded = torch.round(weight_lsbs.detach()).clamp(profile.weight_min, profile.weight_max)
        weight = straight_through(weight_lsbs, rounded) * scale[:, None]
        bias = None
        if self.bias is not None:
            bias = straight_through(self.bias, torch.round(self.bias.detach() / scale) * scale)
        current = F.linear(x, weight, bias)
        if bool((shift > 0).any()):
            # The integer rescale drops fraction bits below the state LSB.
            grid = self.context.grid
            current = ste_round(current / grid, profile.rescale_rounding) * grid
        return current

    def accumulate_events(self, start: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Add the inputs' contributions to ``start`` one input at a time, casting after each.

        This is a synaptic current that saturates (or wraps) on every
        addition, in ascending input order. The ``n`` events of one input add
        as one contribution, which equals ``n`` single additions because they
        all have the same sign.
        """
        params = self.frozen if self.frozen is not None else self.integer()
        profile = self.context.profile
        total = start
        if params.bias is not None:
            added = int_overflow(total + params.bias, profile.current_bits, profile.current_overflow)
            total = torch.where(params.bias != 0, added, total)
        counts = x.long()
        for j in range(params.weight.shape[1]):
            contribution = int_round_shift(counts[:, j : j + 1] * params.weight[:, j] * params.multiplier, params.shift, profile.rescale_rounding)
            added = int_overflow(total + contribution, profile.current_bits, profile.current_overflow)
            total = torch.where(counts[:, j : j + 1] != 0, added, total)
        return total

    def _forward_integer(self, x: torch.Tensor) -> torch.Tensor:
        params = self.frozen if self.frozen is not None else self.integer()
        accumulator = x.long() @ params.weight.T
        if params.bias is not None:
            accumulator = accumulator + params.bias
        return int_round_shift(accumulator * params.multiplier, params.shift, self.context.profile.rescale_rounding)
