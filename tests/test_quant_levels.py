"""State level tables and the nearest-level quantizer against snnTorch 1.0."""

import itertools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from snntorch.functional import quant

from squat_deploy.quant.levels import LevelScheme, float_levels, integer_levels, snap, snap_index

THRESHOLDS = [0.5, 1.0, 2.5, 7.0]
LOWER_LIMITS = [0.0, 0.1, 0.5]
UPPER_LIMITS = [0.05, 0.2, 1.0]
MULTIPLIERS = [None, 0.3, 0.9, 1.0]


def snntorch_quantizer(num_bits, scheme, threshold, lower_limit, upper_limit, multiplier):
    """Build snnTorch's ``state_quant`` closure for one of our schemes."""
    scheme = LevelScheme(scheme)
    return quant.state_quant(
        num_bits=num_bits,
        uniform=scheme is LevelScheme.UNIFORM,
        thr_centered=scheme is LevelScheme.THRESHOLD_CENTERED,
        threshold=threshold,
        lower_limit=lower_limit,
        upper_limit=upper_limit,
        multiplier=multiplier,
    )


def snntorch_levels(quantizer) -> torch.Tensor:
    """Return the level tensor that snnTorch's closure captured."""
    names = quantizer.__code__.co_freevars
    cell = quantizer.__closure__[names.index("levels")]
    return cell.cell_contents


def our_levels(num_bits, scheme, threshold, lower_limit, upper_limit, multiplier) -> torch.Tensor:
    levels = float_levels(num_bits, scheme, threshold, lower_limit, upper_limit, multiplier)
    return torch.tensor(levels, dtype=torch.float32)


def is_ascending(levels: torch.Tensor) -> bool:
    return bool((levels[1:] >= levels[:-1]).all())


def test_closure_levels_are_table():
    quantizer = snntorch_quantizer(3, "threshold-centered", 1.0, 0.0, 0.2, None)
    levels = snntorch_levels(quantizer)

    assert levels.dtype == torch.float32
    assert levels.numel() == 8
    # Every level snaps to itself, so the captured tensor is the whole table.
    assert torch.equal(quantizer(levels), levels)


@pytest.mark.parametrize("num_bits", range(1, 9))
@pytest.mark.parametrize("scheme", list(LevelScheme), ids=lambda s: s.value)
def test_float_levels_match_snntorch(scheme, num_bits):
    grid = itertools.product(THRESHOLDS, LOWER_LIMITS, UPPER_LIMITS, MULTIPLIERS)
    for threshold, lower_limit, upper_limit, multiplier in grid:
        arguments = (num_bits, scheme, threshold, lower_limit, upper_limit, multiplier)
        expected = snntorch_levels(snntorch_quantizer(*arguments))

        levels = float_levels(*arguments)

        assert len(levels) == 2**num_bits, arguments
        assert torch.equal(torch.tensor(levels, dtype=torch.float32), expected), arguments


def test_float_levels_default_multiplier():
    # snnTorch picks 0.5 for four bits when no multiplier is given.
    assert float_levels(4, "threshold-centered") == float_levels(4, "threshold-centered", multiplier=0.5)
    assert float_levels(4, "threshold-centered") != float_levels(4, "threshold-centered", multiplier=0.3)


def test_float_levels_end_points():
    levels = float_levels(4, "threshold-centered", threshold=2.0, lower_limit=0.5, upper_limit=0.25)

    assert levels[0] == -3.0  # -(2 + 2 * 0.5)
    assert levels[-1] == pytest.approx(2.5)  # 2 + 2 * 0.25


def test_neuron_sorts_unordered_levels():
    # Six bits with multiplier 0.3 put 32 levels on each side of zero. The
    # steps next to zero (0.3**31 of a side, about 1e-16) are below the
    # rounding error of the running sum, so snnTorch's list comes out of
    # order. The neuron must sort it and still snap as snnTorch does.
    from squat_deploy.nn.context import Mode, QuantContext
    from squat_deploy.nn.neurons import QLeaky, StateQuantSpec
    from squat_deploy.profiles import load_target

    assert not is_ascending(our_levels(6, "zero-centered", 1.0, 0.5, 0.5, 0.3))
    context = QuantContext(load_target("fpga-int8"), mode=Mode.FLOAT, float_state_quant=True)
    spec = StateQuantSpec(6, LevelScheme.ZERO_CENTERED, lower_limit=0.5, upper_limit=0.5, multiplier=0.3)
    neuron = QLeaky(1, context, beta=0.5, reset="none", state_quant=spec)
    current = torch.tensor([[6.4856e-17]])
    _, state = neuron(current, neuron.initial_state(1, current))

    expected = snntorch_quantizer(6, LevelScheme.ZERO_CENTERED, 1.0, 0.5, 0.5, 0.3)(current.clone())
    assert torch.equal(state.mem, expected)


def _midpoints(levels: torch.Tensor) -> torch.Tensor:
    """Return the float32 values nearest to the midpoints of adjacent levels."""
    wide = levels.double()
    return ((wide[1:] + wide[:-1]) / 2).float()


table_arguments = st.tuples(
    st.integers(1, 8),
    st.sampled_from(list(LevelScheme)),
    st.sampled_from(THRESHOLDS),
    st.sampled_from(LOWER_LIMITS),
    st.sampled_from(UPPER_LIMITS),
    st.sampled_from(MULTIPLIERS),
)


@settings(max_examples=80, deadline=None)
@given(
    arguments=table_arguments,
    values=st.lists(st.floats(-20.0, 20.0, width=32), min_size=1, max_size=32),
)
def test_snap_matches_snntorch(arguments, values):
    quantizer = snntorch_quantizer(*arguments)
    levels = our_levels(*arguments).sort().values
    threshold = arguments[2]
    outside = torch.tensor([-100.0, -3 * threshold, 3 * threshold, 100.0])
    x = torch.cat([torch.tensor(values, dtype=torch.float32), levels, _midpoints(levels), outside])

    result = snap(x, levels)

    assert result.dtype == torch.float32
    assert torch.equal(result, quantizer(x))


def test_snap_tie_takes_lower():
    # Two bits over [-1.5, 1.5]: levels -1.5, -0.5, 0.5, 1.5 and exact midpoints.
    quantizer = snntorch_quantizer(2, "uniform", 1.0, 0.5, 0.5, None)
    levels = our_levels(2, "uniform", 1.0, 0.5, 0.5, None)
    ties = torch.tensor([-1.0, 0.0, 1.0])

    assert levels.tolist() == [-1.5, -0.5, 0.5, 1.5]
    assert snap(ties, levels).tolist() == [-1.5, -0.5, 0.5]
    assert quantizer(ties).tolist() == [-1.5, -0.5, 0.5]


def test_snap_outside_range():
    levels = torch.tensor([-1.0, -0.25, 0.5, 1.25])
    x = torch.tensor([-1e6, -1.01, 1.3, 1e6, float("inf"), float("-inf")])

    assert snap(x, levels).tolist() == [-1.0, -1.0, 1.25, 1.25, 1.25, -1.0]


def test_snap_keeps_float64():
    levels = torch.tensor(float_levels(3, "threshold-centered"), dtype=torch.float32)
    x = torch.linspace(-2.0, 2.0, 101, dtype=torch.float64)

    result = snap(x, levels)

    assert result.dtype == torch.float64
    wide = levels.double()
    nearest = wide[torch.argmin((x[:, None] - wide[None, :]).abs(), dim=1)]
    assert torch.equal(result, nearest)


def test_snap_keeps_int64():
    levels = torch.tensor([-1024, -273, 478, 1229], dtype=torch.int64)
    x = torch.tensor([-5000, -700, 102, 103, 900, 5000], dtype=torch.int64)

    result = snap(x, levels)

    assert result.dtype == torch.int64
    # 102 is 375 from -273 and 376 from 478; 103 is the other way round.
    assert result.tolist() == [-1024, -1024, -273, 478, 1229, 1229]


def test_snap_int64_tie_lower():
    levels = torch.tensor([0, 10, 20], dtype=torch.int64)
    x = torch.tensor([5, 15, -5, 25], dtype=torch.int64)

    assert snap(x, levels).tolist() == [0, 10, 0, 20]


def test_snap_gradient_straight_through():
    levels = torch.tensor([-1.0, -0.25, 0.5, 1.25])
    x = torch.tensor([-3.0, -0.6, 0.2, 0.9, 7.0], requires_grad=True)
    weights = torch.tensor([2.0, -1.0, 0.5, 3.0, 4.0])

    result = snap(x, levels)
    (result * weights).sum().backward()

    assert result.tolist() == [-1.0, -0.25, 0.5, 1.25, 1.25]
    # The gradient also passes where x lies outside the table.
    assert torch.equal(x.grad, weights)


def test_snap_index_collapsed_levels():
    levels = torch.tensor([-4, 0, 0, 0, 3, 7], dtype=torch.int64)
    x = torch.tensor([-9, -2, -1, 0, 1, 2, 5, 6, 100], dtype=torch.int64)

    result = snap_index(x, levels)

    assert result.dtype == torch.int64
    # -2 ties between -4 and 0 and goes low, 5 ties between 3 and 7.
    assert result.tolist() == [0, 0, 1, 1, 1, 4, 4, 5, 5]


def test_snap_index_integer_table():
    # Three threshold-centred bits on a 2**-4 grid: 0.9842, 0.9956 and 0.9990
    # all round to 16.
    levels = integer_levels(float_levels(3, "threshold-centered"), 4)
    x = torch.tensor([16, 17, 18, 15, -100], dtype=torch.int64)

    result = snap_index(x, torch.tensor(levels, dtype=torch.int64))

    assert levels == [-16, 6, 13, 15, 16, 16, 16, 19]
    assert result.tolist() == [4, 4, 7, 3, 0]


@settings(max_examples=150, deadline=None)
@given(
    table=st.lists(st.integers(-50, 50), min_size=1, max_size=12),
    values=st.lists(st.integers(-80, 80), min_size=1, max_size=20),
)
def test_snap_index_lowest_nearest(table, values):
    levels = sorted(table)

    result = snap_index(torch.tensor(values, dtype=torch.int64), torch.tensor(levels, dtype=torch.int64))

    for value, index in zip(values, result.tolist()):
        distance = min(abs(value - level) for level in levels)
        nearest = min(level for level in levels if abs(value - level) == distance)
        assert index == levels.index(nearest), (value, levels)


def test_integer_levels_round_and_sort():
    levels = [0.3, -1.0, 1.2, 0.0004, -0.26666668]

    # 0.3 * 1024 = 307.2, 1.2 * 1024 = 1228.8, 0.0004 * 1024 = 0.41,
    # -0.26666668 * 1024 = -273.07
    assert integer_levels(levels, 10) == [-1024, -273, 0, 307, 1229]


def test_integer_levels_keep_duplicates():
    assert integer_levels([0.0002, 0.0, 0.0001], 10) == [0, 0, 0]


def test_integer_levels_uniform_two_bits():
    # linspace(-1, 1.2, 4) in float32: -1, -0.26666668, 0.46666667, 1.2
    levels = float_levels(2, "uniform")

    assert integer_levels(levels, 10) == [-1024, -273, 478, 1229]
