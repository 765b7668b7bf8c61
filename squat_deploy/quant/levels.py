"""State level tables and the nearest-level quantizer.

A state quantizer is a sorted table of ``2**num_bits`` levels. A neuron state
snaps to the nearest level; a tie goes to the lower level. On hardware the
state is stored as a ``num_bits`` index into the table.

The level formulas are those of snnTorch's
``snntorch.functional.quant.state_quant`` (snnTorch 1.0):

- uniform: ``2**num_bits`` evenly spaced levels from
  ``-threshold * (1 + lower_limit)`` to ``threshold * (1 + upper_limit)``;
- threshold-centred: the same end points. The levels are split between the
  part below the threshold and the part above it in proportion to their
  lengths. Within each part the steps shrink geometrically by ``multiplier``
  toward the threshold, so levels crowd where the spike decision is made.
- zero-centred: as threshold-centred, with the crowding at zero.
"""

from __future__ import annotations

import enum
import math

import torch

from squat_deploy.quant.fixed import straight_through


class LevelScheme(enum.Enum):
    """Spacing scheme of the levels in a table."""

    UNIFORM = "uniform"
    THRESHOLD_CENTERED = "threshold-centered"
    ZERO_CENTERED = "zero-centered"


# snnTorch's default geometric multiplier for each number of bits.
_DEFAULT_MULTIPLIER = {1: 0.05, 2: 0.1, 3: 0.3, 4: 0.5, 5: 0.7, 6: 0.9, 7: 0.925}


def default_multiplier(num_bits: int) -> float:
    """Return snnTorch's default geometric multiplier for ``num_bits``."""
    return _DEFAULT_MULTIPLIER.get(num_bits, 0.95)


def _geometric_steps(count: int, length: float, multiplier: float) -> list[float]:
    """Return ``count`` steps ``multiplier**j`` scaled so that they sum to ``length``.

    The sum runs from the smallest term up, and each step is ``term / (sum /
    length)``, the order in which snnTorch evaluates it, so the float64 levels
    agree with snnTorch's to the last bit.
    """
    total = 0.0
    for j in reversed(range(count)):
        total += multiplier**j
    room = total / length
    return [multiplier**j / room for j in range(count)]


def float_levels(
    num_bits: int,
    scheme: LevelScheme | str = LevelScheme.THRESHOLD_CENTERED,
    threshold: float = 1.0,
    lower_limit: float = 0.0,
    upper_limit: float = 0.2,
    multiplier: float | None = None,
) -> list[float]:
    """Compute the ``2**num_bits`` levels of a state table, in float64.

    ``lower_limit`` and ``upper_limit`` extend the range below ``-threshold``
    and above ``threshold`` as fractions of the threshold. ``multiplier`` is
    the geometric ratio of the non-uniform schemes, snnTorch's default for
    ``num_bits`` when None. The list is in snnTorch's order. It is ascending
    except where steps near the centre are smaller than the float64 rounding
    of the running sum (zero-centred tables with many bits and a small
    multiplier), so sort it before a binary search.
    """
    scheme = LevelScheme(scheme)
    if num_bits < 1:
        raise ValueError(f"num_bits must be at least 1, got {num_bits}")
    if threshold <= 0:
        raise ValueError(f"threshold must be positive, got {threshold}")
    count = 2**num_bits
    max_val = threshold + threshold * upper_limit
    min_val = -(threshold + threshold * lower_limit)

    if scheme is LevelScheme.UNIFORM:
        # snnTorch builds this grid with a float32 linspace; building it the
        # same way keeps the two tables equal bit for bit.
        return torch.linspace(min_val, max_val, count, dtype=torch.float32).tolist()

    if multiplier is None:
        multiplier = default_multiplier(num_bits)
    center = threshold if scheme is LevelScheme.THRESHOLD_CENTERED else 0.0
    below = center - min_val
    above = max_val - center
    count_below = math.floor(count * (below / (max_val - min_val)))
    count_above = count - count_below

    levels = []
    value = min_val
    if count_below:
        for step in _geometric_steps(count_below, below, multiplier):
            levels.append(value)
            value += step
    if count_above:
        value = center
        for step in reversed(_geometric_steps(count_above, above, multiplier)):
            value += step
            levels.append(value)
    return levels


def integer_levels(levels: list[float], frac_bits: int) -> list[int]:
    """Round float levels to the integer state grid of ``frac_bits`` fraction bits.

    Levels closer together than one grid step collapse to the same integer; the
    table keeps them, so the index width stays ``log2(len(levels))``.
    """
    scale = 2.0**frac_bits
    return sorted(int(round(level * scale)) for level in levels)


def _snap_index(x: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
    """Return the index of the nearest level to each element; ties go low."""
    flat = x.reshape(-1).contiguous()
    upper = torch.searchsorted(levels, flat, right=True)
    last = levels.numel() - 1
    low_index = (upper - 1).clamp(0, last)
    high_index = upper.clamp(0, last)
    low = levels[low_index]
    high = levels[high_index]
    take_low = (flat - low) <= (high - flat)
    chosen = torch.where(take_low, low_index, high_index)
    # Among equal (collapsed) levels the lowest index is the stored one.
    chosen = torch.searchsorted(levels, levels[chosen], right=False)
    return chosen.reshape(x.shape)


def snap_index(x: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
    """Return the level index (int64) each element of ``x`` snaps to.

    ``levels`` must be sorted ascending and of the same dtype as ``x``.
    """
    return _snap_index(x.detach(), levels)


def snap(x: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
    """Snap each element of ``x`` to its nearest level, keeping ``x``'s dtype.

    The search is a binary search over the sorted table, so memory stays
    linear in the number of states. The gradient passes straight through to
    ``x``, and where ``levels`` requires a gradient each level also receives
    the gradient of the outputs that snapped to it.
    """
    levels = levels.to(device=x.device, dtype=x.dtype)
    snapped = levels[_snap_index(x.detach(), levels.detach())]
    if levels.requires_grad:
        # Learnable levels: the chosen level gets the gradient of the output,
        # and ``x`` still gets it straight through. The added term is zero in
        # the forward pass, also where ``x`` is infinite.
        return straight_through(x, snapped) + (snapped - snapped.detach())
    if x.requires_grad:
        return straight_through(x, snapped)
    return snapped
