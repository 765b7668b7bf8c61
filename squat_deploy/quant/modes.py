"""Rounding and overflow modes: one closed set each, parsed in one place.

The names follow the fixed-point vocabulary of hls4ml and Vitis HLS
(`ap_fixed` quantization modes `AP_TRN`, `AP_TRN_ZERO`, `AP_RND`, `AP_RND_ZERO`,
`AP_RND_MIN_INF`, `AP_RND_INF`, `AP_RND_CONV` and overflow modes `AP_WRAP`,
`AP_SAT`, `AP_SAT_SYM`). Each enum value carries a small integer code that the
Numba kernels take in place of the enum.
"""

from __future__ import annotations

import enum


class Rounding(enum.Enum):
    """Rounding mode of a right shift by ``s`` bits, a division by ``2**s``."""

    FLOOR = "floor"  # toward minus infinity; an arithmetic shift (AP_TRN)
    TOWARD_ZERO = "toward_zero"  # truncate the magnitude (AP_TRN_ZERO)
    HALF_UP = "half_up"  # nearest, ties toward plus infinity (AP_RND)
    HALF_DOWN = "half_down"  # nearest, ties toward minus infinity (AP_RND_MIN_INF)
    HALF_TOWARD_ZERO = "half_toward_zero"  # nearest, ties toward zero (AP_RND_ZERO)
    HALF_AWAY_FROM_ZERO = "half_away_from_zero"  # nearest, ties away (AP_RND_INF)
    HALF_EVEN = "half_even"  # nearest, ties to even; convergent (AP_RND_CONV)

    @property
    def code(self) -> int:
        return _ROUNDING_CODES[self]


class Overflow(enum.Enum):
    """Overflow mode: the treatment of a value outside the range of its bit width."""

    SATURATE = "saturate"  # clamp to [-2**(w-1), 2**(w-1) - 1] (AP_SAT)
    SATURATE_SYMMETRIC = "saturate_symmetric"  # clamp to +-(2**(w-1) - 1) (AP_SAT_SYM)
    WRAP = "wrap"  # keep the low w bits, two's complement (AP_WRAP)

    @property
    def code(self) -> int:
        return _OVERFLOW_CODES[self]


class Comparator(enum.Enum):
    """Spike comparator between the membrane and the threshold."""

    GREATER = ">"
    GREATER_EQUAL = ">="

    @property
    def code(self) -> int:
        return 0 if self is Comparator.GREATER else 1


class Reset(enum.Enum):
    """Reset mechanism a spike applies to the membrane, in snnTorch's names."""

    SUBTRACT = "subtract"
    ZERO = "zero"
    NONE = "none"

    @property
    def code(self) -> int:
        return {Reset.SUBTRACT: 0, Reset.ZERO: 1, Reset.NONE: 2}[self]


_ROUNDING_CODES = {mode: index for index, mode in enumerate(Rounding)}
_OVERFLOW_CODES = {mode: index for index, mode in enumerate(Overflow)}


def parse_enum(enum_type: type[enum.Enum], value: object, where: str) -> enum.Enum:
    """Return the member of ``enum_type`` whose value is ``value``.

    Raises ``ValueError`` naming ``where`` (a file and key, or an argument) and
    the allowed values when ``value`` is not one of them.
    """
    if isinstance(value, enum_type):
        return value
    for member in enum_type:
        if member.value == value:
            return member
    allowed = ", ".join(repr(member.value) for member in enum_type)
    raise ValueError(f"{where}: invalid value {value!r}; allowed values are {allowed}")
