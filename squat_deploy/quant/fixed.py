"""Fixed-point arithmetic on torch tensors: shifts with rounding, overflow.

Two families live here. The ``int_*`` functions compute exactly on ``int64``
tensors and are what the QAT modules run in target mode. The ``ste_*``
functions apply the same rounding to float tensors that hold values in units
of one least significant bit, with a straight-through gradient, and are what
the modules run during quantization-aware training.
"""

from __future__ import annotations

import torch

from squat_deploy.quant.modes import Overflow, Rounding


def int_range(bits: int, signed: bool = True) -> tuple[int, int]:
    """Return the ``(min_int, max_int)`` of a ``bits``-wide integer."""
    if signed:
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1


def int_round_shift(x: torch.Tensor, shift, rounding: Rounding) -> torch.Tensor:
    """Compute ``x / 2**shift`` rounded by ``rounding``, exactly, on int64.

    ``shift`` is an int or an int64 tensor broadcastable to ``x``; where it is
    zero or negative the result is ``x * 2**-shift``, which needs no rounding.
    The result is exact for ``|x| <= 2**62``; the profiles' width limits keep
    every value the compiler accepts far inside that range.
    """
    shift = torch.as_tensor(shift, dtype=torch.int64, device=x.device)
    right = shift.clamp(min=0)
    left = (-shift).clamp(min=0)
    x = x << left
    half = (torch.ones_like(right) << right) >> 1  # 2**(s-1), or 0 when s == 0
    magnitude = x.abs()
    sign = torch.sign(x)

    if rounding is Rounding.FLOOR:
        return x >> right
    if rounding is Rounding.TOWARD_ZERO:
        return sign * (magnitude >> right)
    if rounding is Rounding.HALF_UP:
        return (x + half) >> right
    if rounding is Rounding.HALF_DOWN:
        return -((half - x) >> right)
    if rounding is Rounding.HALF_TOWARD_ZERO:
        return sign * ((magnitude + half - (half > 0).long()) >> right)
    if rounding is Rounding.HALF_AWAY_FROM_ZERO:
        return sign * ((magnitude + half) >> right)
    if rounding is Rounding.HALF_EVEN:
        quotient = x >> right
        remainder = x - (quotient << right)
        round_up = (remainder > half) | ((remainder == half) & (half > 0) & ((quotient & 1) == 1))
        return quotient + round_up.long()
    raise ValueError(f"unknown rounding mode {rounding!r}")


def int_overflow(x: torch.Tensor, bits: int, overflow: Overflow) -> torch.Tensor:
    """Bring int64 ``x`` into a signed ``bits``-wide range by the ``overflow`` mode."""
    low, high = int_range(bits)
    if overflow is Overflow.SATURATE:
        return x.clamp(low, high)
    if overflow is Overflow.SATURATE_SYMMETRIC:
        return x.clamp(low + 1, high)
    if overflow is Overflow.WRAP:
        return torch.remainder(x - low, 1 << bits) + low
    raise ValueError(f"unknown overflow mode {overflow!r}")


class _StraightThrough(torch.autograd.Function):
    """Forward ``rounded``; backward passes the gradient of ``x`` unchanged."""

    @staticmethod
    def forward(ctx, x, rounded):
        return rounded

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output, None


def straight_through(x: torch.Tensor, rounded: torch.Tensor) -> torch.Tensor:
    """Return ``rounded`` in the forward pass with the gradient of ``x``."""
    return _StraightThrough.apply(x, rounded.detach())


def float_round(x: torch.Tensor, rounding: Rounding) -> torch.Tensor:
    """Round float ``x`` to an integer value by ``rounding`` (no gradient)."""
    if rounding is Rounding.FLOOR:
        return torch.floor(x)
    if rounding is Rounding.TOWARD_ZERO:
        return torch.trunc(x)
    if rounding is Rounding.HALF_UP:
        return torch.floor(x + 0.5)
    if rounding is Rounding.HALF_DOWN:
        return torch.ceil(x - 0.5)
    if rounding is Rounding.HALF_TOWARD_ZERO:
        return torch.sign(x) * torch.ceil(x.abs() - 0.5)
    if rounding is Rounding.HALF_AWAY_FROM_ZERO:
        return torch.sign(x) * torch.floor(x.abs() + 0.5)
    if rounding is Rounding.HALF_EVEN:
        return torch.round(x)
    raise ValueError(f"unknown rounding mode {rounding!r}")


def ste_round(x: torch.Tensor, rounding: Rounding) -> torch.Tensor:
    """Round float ``x`` (in LSB units) with a straight-through gradient."""
    return straight_through(x, float_round(x.detach(), rounding))


def ste_overflow(x: torch.Tensor, bits: int, overflow: Overflow) -> torch.Tensor:
    """Apply ``overflow`` to float ``x`` (in LSB units).

    Saturation clamps, so the gradient is zero outside the range, as for any
    clipping quantizer; wrapping passes the gradient straight through.
    """
    low, high = int_range(bits)
    if overflow is Overflow.SATURATE:
        return x.clamp(low, high)
    if overflow is Overflow.SATURATE_SYMMETRIC:
        return x.clamp(low + 1, high)
    if overflow is Overflow.WRAP:
        wrapped = torch.remainder(x.detach() - low, float(1 << bits)) + low
        return straight_through(x, wrapped)
    raise ValueError(f"unknown overflow mode {overflow!r}")
