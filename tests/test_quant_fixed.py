"""Fixed-point rounding and overflow against exact rational definitions."""

import math
from fractions import Fraction

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from squat_deploy.quant.fixed import float_round, int_overflow, int_range, int_round_shift, ste_round
from squat_deploy.quant.modes import Overflow, Rounding


def _sign(q: Fraction) -> int:
    return (q > 0) - (q < 0)


def reference_round(q: Fraction, rounding: Rounding) -> int:
    """Round the exact rational ``q`` to an integer as the mode is defined."""
    half = Fraction(1, 2)
    if rounding is Rounding.FLOOR:
        return math.floor(q)
    if rounding is Rounding.TOWARD_ZERO:
        return math.trunc(q)
    if rounding is Rounding.HALF_UP:
        return math.floor(q + half)
    if rounding is Rounding.HALF_DOWN:
        return math.ceil(q - half)
    if rounding is Rounding.HALF_TOWARD_ZERO:
        return _sign(q) * math.ceil(abs(q) - half)
    if rounding is Rounding.HALF_AWAY_FROM_ZERO:
        return _sign(q) * math.floor(abs(q) + half)
    if rounding is Rounding.HALF_EVEN:
        return round(q)  # Fraction.__round__ sends ties to the even neighbour
    raise AssertionError(f"no reference for {rounding}")


def reference_shift(x: int, shift: int, rounding: Rounding) -> int:
    """Return ``x / 2**shift`` rounded with ``rounding``, in exact arithmetic."""
    if shift <= 0:
        return x * 2**-shift
    return reference_round(Fraction(x, 2**shift), rounding)


# The reference itself, on the ties that tell the modes apart.
REFERENCE_TIES = {
    Rounding.FLOOR: {Fraction(5, 2): 2, Fraction(-5, 2): -3, Fraction(-1, 4): -1},
    Rounding.TOWARD_ZERO: {Fraction(5, 2): 2, Fraction(-5, 2): -2, Fraction(-7, 4): -1},
    Rounding.HALF_UP: {Fraction(5, 2): 3, Fraction(-5, 2): -2, Fraction(-7, 4): -2},
    Rounding.HALF_DOWN: {Fraction(5, 2): 2, Fraction(-5, 2): -3, Fraction(7, 4): 2},
    Rounding.HALF_TOWARD_ZERO: {Fraction(5, 2): 2, Fraction(-5, 2): -2, Fraction(-7, 4): -2},
    Rounding.HALF_AWAY_FROM_ZERO: {Fraction(5, 2): 3, Fraction(-5, 2): -3, Fraction(1, 4): 0},
    Rounding.HALF_EVEN: {Fraction(5, 2): 2, Fraction(7, 2): 4, Fraction(-5, 2): -2, Fraction(-3, 2): -2},
}


@pytest.mark.parametrize("rounding", list(Rounding), ids=lambda r: r.value)
def test_reference_round_ties(rounding):
    for value, expected in REFERENCE_TIES[rounding].items():
        assert reference_round(value, rounding) == expected, value


@pytest.mark.parametrize("rounding", list(Rounding), ids=lambda r: r.value)
@pytest.mark.parametrize("shift", [-3, -2, -1, 0, 1, 2, 3])
def test_round_shift_small_values(rounding, shift):
    values = list(range(-9, 10))
    result = int_round_shift(torch.tensor(values, dtype=torch.int64), shift, rounding)

    assert result.dtype == torch.int64
    expected = [reference_shift(x, shift, rounding) for x in values]
    assert result.tolist() == expected


def test_round_shift_hand_values():
    x = torch.tensor([5, -5, 6, -6, 7, -7], dtype=torch.int64)

    # x / 2: 2.5, -2.5, 3, -3, 3.5, -3.5
    assert int_round_shift(x, 1, Rounding.FLOOR).tolist() == [2, -3, 3, -3, 3, -4]
    assert int_round_shift(x, 1, Rounding.TOWARD_ZERO).tolist() == [2, -2, 3, -3, 3, -3]
    assert int_round_shift(x, 1, Rounding.HALF_UP).tolist() == [3, -2, 3, -3, 4, -3]
    assert int_round_shift(x, 1, Rounding.HALF_DOWN).tolist() == [2, -3, 3, -3, 3, -4]
    assert int_round_shift(x, 1, Rounding.HALF_TOWARD_ZERO).tolist() == [2, -2, 3, -3, 3, -3]
    assert int_round_shift(x, 1, Rounding.HALF_AWAY_FROM_ZERO).tolist() == [3, -3, 3, -3, 4, -4]
    assert int_round_shift(x, 1, Rounding.HALF_EVEN).tolist() == [2, -2, 3, -3, 4, -4]


@pytest.mark.parametrize("rounding", list(Rounding), ids=lambda r: r.value)
def test_round_shift_tensor_shift(rounding):
    x = torch.tensor([[-7, 13, 100], [-7, 13, 100]], dtype=torch.int64)
    shift = torch.tensor([-2, 0, 3], dtype=torch.int64)  # one shift per column

    result = int_round_shift(x, shift, rounding)

    expected = [[reference_shift(v, s, rounding) for v, s in zip(row, shift.tolist())] for row in x.tolist()]
    assert result.tolist() == expected


# Rounding adds up to 2**(shift-1) and takes the magnitude before the shift,
# so the property keeps |x| <= 2**62, where those steps cannot overflow int64.
INT64_HEADROOM = 2**62


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(st.integers(-INT64_HEADROOM, INT64_HEADROOM), min_size=1, max_size=16),
    shift=st.integers(0, 20),
)
def test_round_shift_matches_fraction(values, shift):
    x = torch.tensor(values, dtype=torch.int64)

    for rounding in Rounding:
        expected = [reference_shift(value, shift, rounding) for value in values]
        assert int_round_shift(x, shift, rounding).tolist() == expected, rounding


INT64_EXTREMES = [2**63 - 1, -(2**63), -(2**63) + 1]
# The other modes add 2**(shift-1), negate or take abs() before the shift, so
# they are exact only for |x| <= 2**62, as int_round_shift documents.
EXACT_AT_EXTREMES = [Rounding.FLOOR, Rounding.HALF_EVEN]


@pytest.mark.parametrize("rounding", EXACT_AT_EXTREMES, ids=lambda r: r.value)
def test_round_shift_int64_extremes(rounding):
    result = int_round_shift(torch.tensor(INT64_EXTREMES, dtype=torch.int64), 1, rounding)

    assert result.tolist() == [reference_shift(x, 1, rounding) for x in INT64_EXTREMES]


def test_int_range_widths():
    assert int_range(8) == (-128, 127)
    assert int_range(16) == (-32768, 32767)
    assert int_range(4) == (-8, 7)
    assert int_range(8, signed=False) == (0, 255)


# (bits, input, saturate, saturate_symmetric, wrap)
OVERFLOW_CASES = [
    (8, 127 + 1, 127, 127, -128),
    (8, 127, 127, 127, 127),
    (8, -128, -128, -127, -128),
    (8, -129, -128, -127, 127),
    (8, 300, 127, 127, 44),  # 300 - 256
    (8, -300, -128, -127, -44),  # -300 + 256
    (8, 0, 0, 0, 0),
    (4, 8, 7, 7, -8),
    (4, -9, -8, -7, 7),
    (4, 17, 7, 7, 1),  # 17 - 16
    (16, 32768, 32767, 32767, -32768),
    (16, -32768, -32768, -32767, -32768),
    (16, -40000, -32768, -32767, 25536),  # -40000 + 65536
    (16, 65536 + 5, 32767, 32767, 5),
]


@pytest.mark.parametrize(("bits", "value", "saturated", "symmetric", "wrapped"), OVERFLOW_CASES)
def test_overflow_hand_values(bits, value, saturated, symmetric, wrapped):
    x = torch.tensor([value], dtype=torch.int64)

    assert int_overflow(x, bits, Overflow.SATURATE).item() == saturated
    assert int_overflow(x, bits, Overflow.SATURATE_SYMMETRIC).item() == symmetric
    assert int_overflow(x, bits, Overflow.WRAP).item() == wrapped


@settings(max_examples=100, deadline=None)
@given(values=st.lists(st.integers(-(2**40), 2**40), min_size=1, max_size=16), bits=st.integers(2, 32))
def test_overflow_wrap_keeps_low_bits(values, bits):
    result = int_overflow(torch.tensor(values, dtype=torch.int64), bits, Overflow.WRAP).tolist()

    low, high = int_range(bits)
    for value, wrapped in zip(values, result):
        assert low <= wrapped <= high
        assert (wrapped - value) % 2**bits == 0


@pytest.mark.parametrize("rounding", list(Rounding), ids=lambda r: r.value)
@pytest.mark.parametrize("shift", [0, 1, 2, 3, 4])
def test_float_round_matches_int(rounding, shift):
    values = torch.arange(-64, 65, dtype=torch.int64)
    scaled = values.double() / 2.0**shift  # exact in float64

    result = float_round(scaled, rounding)

    assert result.dtype == torch.float64
    assert result.long().tolist() == int_round_shift(values, shift, rounding).tolist()


@settings(max_examples=150, deadline=None)
@given(values=st.lists(st.integers(-(2**40), 2**40), min_size=1, max_size=16), shift=st.integers(0, 12))
def test_float_round_matches_int_random(values, shift):
    x = torch.tensor(values, dtype=torch.int64)
    scaled = x.double() / 2.0**shift  # exact: at most 41 significant bits

    for rounding in Rounding:
        expected = int_round_shift(x, shift, rounding).tolist()
        assert float_round(scaled, rounding).long().tolist() == expected, rounding


@pytest.mark.parametrize("rounding", list(Rounding), ids=lambda r: r.value)
def test_ste_round_gradient_one(rounding):
    x = torch.tensor([-2.5, -0.75, 0.5, 1.25, 3.5], requires_grad=True)
    weights = torch.tensor([1.0, -2.0, 3.0, 0.5, 4.0])

    rounded = ste_round(x, rounding)
    (rounded * weights).sum().backward()

    assert torch.equal(rounded.detach(), float_round(x.detach(), rounding))
    assert torch.equal(x.grad, weights)
