"""Spike function with an arctangent surrogate gradient."""

from __future__ import annotations

import math

import torch


class _ATanSpike(torch.autograd.Function):
    """Heaviside forward; derivative of ``atan(pi * slope * x / 2) / pi`` backward.

    This is the surrogate snnTorch uses by default (``snntorch.surrogate.atan``
    with ``alpha = slope = 2``).
    """

    @staticmethod
    def forward(ctx, x, inclusive: bool, slope: float):
        ctx.save_for_backward(x)
        ctx.slope = slope
        spikes = x >= 0 if inclusive else x > 0
        return spikes.to(x.dtype)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        slope = ctx.slope
        grad = slope / 2 / (1 + (math.pi / 2 * slope * x) ** 2)
        return grad_output * grad, None, None


def spike(x: torch.Tensor, inclusive: bool = False, slope: float = 2.0) -> torch.Tensor:
    """Return 1.0 where ``x > 0`` (``x >= 0`` when inclusive), with a surrogate gradient."""
    return _ATanSpike.apply(x, inclusive, slope)
