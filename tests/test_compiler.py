"""Lowering an artifact to the integer graph: widths, rejections, footprint and profiles."""

from __future__ import annotations

import copy
import math
import re

import numpy as np
import pytest

from squat_deploy.artifact import Artifact, read_artifact
from squat_deploy.compiler import compile_artifact, estimate_footprint
from squat_deploy.errors import UserError, WidthError
from squat_deploy.profiles import load_target, shipped_targets

# Shapes of the tiny model that the shared fixtures train.
INPUTS, HIDDEN, CLASSES = 64, 16, 10
LEVEL_BITS = 4


@pytest.fixture(scope="module")
def loaded(tiny_artifact) -> Artifact:
    return read_artifact(tiny_artifact)


@pytest.fixture
def artifact(loaded) -> Artifact:
    """A deep copy of the tiny artifact that a test may change."""
    return copy.deepcopy(loaded)


def write_profile(folder, replacements: dict[str, str], name: str = "custom") -> str:
    """Write a copy of fpga-int8.toml named ``name``, with each ``old -> new`` text replaced once, and return its path."""
    text = shipped_targets()["fpga-int8"].read_text(encoding="utf-8")
    replacements = {'name = "fpga-int8"': f'name = "{name}"', **replacements}
    for old, new in replacements.items():
        assert text.count(old) == 1, f"{old!r} must occur once in fpga-int8.toml"
        text = text.replace(old, new)
    path = folder / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def compile_error(artifact: Artifact, profile=None) -> str:
    with pytest.raises(WidthError) as caught:
        compile_artifact(artifact, profile)
    return str(caught.value)


# Widths of the compiled ops.


def test_compile_widths_match_profile(artifact):
    graph = compile_artifact(artifact)
    profile = load_target("fpga-int8")

    assert graph.profile.to_dict() == profile.to_dict()
    assert graph.input_size == INPUTS
    assert graph.num_steps == 16
    assert [layer.name for layer in graph.layers] == ["hidden", "output"]
    for layer in graph.layers:
        widths = layer.describe()["widths"]
        assert widths["weight"] == profile.weight_bits == 8, layer.name
        assert widths["accumulator"] == profile.accumulator_bits == 32, layer.name
        assert widths["current"] == profile.current_bits == 16, layer.name
        assert widths["state"] == profile.state_bits == 16, layer.name
        assert widths["threshold"] == profile.threshold_bits == 16, layer.name
        assert widths["decay"] == profile.decay_bits == 12, layer.name
        assert widths["level_index"] == LEVEL_BITS, layer.name


def test_compile_ops_shapes_and_values(artifact):
    hidden, output = compile_artifact(artifact).layers

    assert hidden.neuron_type == "RLeaky"
    assert hidden.dense.weight.shape == (HIDDEN, INPUTS)
    assert hidden.recurrent.weight.shape == (HIDDEN, HIDDEN)
    assert output.neuron_type == "Leaky"
    assert output.recurrent is None
    assert output.dense.weight.shape == (CLASSES, HIDDEN)
    # The first layer's inputs may carry up to 15 events per step on fpga-int8.
    for layer, events in ((hidden, 15), (output, 1)):
        assert np.abs(layer.dense.weight).max() <= 127, layer.name
        assert layer.dense.max_accumulator == events * np.abs(layer.dense.weight).sum(axis=1).max(), layer.name
        assert np.all((layer.beta >= 0) & (layer.beta < 4096)), layer.name
        assert np.all(layer.threshold == 1024), layer.name  # threshold 1.0 with 10 fraction bits
        assert layer.levels.shape == (1 << LEVEL_BITS,), layer.name
        assert np.all(np.diff(layer.levels) >= 0), layer.name


# Each width rule rejects a value outside it.


@pytest.mark.parametrize("value", [-128, 128, 200])
def test_weight_outside_range(artifact, value):
    weight = artifact.arrays["hidden.dense.weight"].astype(np.int64)
    weight[3, 5] = value
    artifact.arrays["hidden.dense.weight"] = weight

    message = compile_error(artifact)
    assert "layer 'hidden' dense weights" in message
    assert f"weight {value} " in message
    assert "8-bit weights" in message
    assert "(-127 to 127)" in message


def test_recurrent_weight_outside_range(artifact):
    artifact.arrays["hidden.recurrent.weight"][0, 0] = -128

    message = compile_error(artifact)
    assert "layer 'hidden' recurrent weights" in message
    assert "weight -128 " in message
    assert "(-127 to 127)" in message


def test_all_weights_zero(artifact):
    artifact.arrays["output.dense.weight"][:] = 0

    message = compile_error(artifact)
    assert "layer 'output' dense weights" in message
    assert "every weight rounds to zero at 8 bits" in message


def test_threshold_beyond_16_bits(artifact):
    artifact.arrays["output.threshold"][4] = 40000

    message = compile_error(artifact)
    assert "layer 'output'" in message
    assert "threshold 40000 (neuron 4)" in message
    assert "16-bit threshold" in message
    assert "1 to 32767" in message


def test_threshold_zero(artifact):
    artifact.arrays["hidden.threshold"][0] = 0

    message = compile_error(artifact)
    assert "layer 'hidden'" in message
    assert "threshold 0 (neuron 0)" in message


def test_beta_beyond_12_bits(artifact):
    artifact.arrays["hidden.beta"][2] = 4096

    message = compile_error(artifact)
    assert "layer 'hidden'" in message
    assert "beta constant 4096 (neuron 2)" in message
    assert "12-bit decay" in message
    assert "0 to 4095" in message


def test_beta_negative(artifact):
    artifact.arrays["output.beta"][0] = -1

    message = compile_error(artifact)
    assert "layer 'output'" in message
    assert "beta constant -1 (neuron 0)" in message


def test_levels_wrong_length(artifact):
    artifact.arrays["hidden.levels"] = artifact.arrays["hidden.levels"][:-1]

    message = compile_error(artifact)
    assert "layer 'hidden'" in message
    assert "level table has 15 entries" in message
    assert "expected 2**4 = 16" in message


def test_levels_unsorted(artifact):
    artifact.arrays["output.levels"] = artifact.arrays["output.levels"][::-1].copy()

    message = compile_error(artifact)
    assert "layer 'output'" in message
    assert "not sorted ascending" in message


def test_level_above_16_bits(artifact):
    artifact.arrays["hidden.levels"][-1] = 40000

    message = compile_error(artifact)
    assert "layer 'hidden'" in message
    assert "level 40000 " in message
    assert "16-bit state" in message


def test_level_below_16_bits(artifact):
    artifact.arrays["hidden.levels"][0] = -40000

    message = compile_error(artifact)
    assert "layer 'hidden'" in message
    assert "level -40000 " in message
    assert "16-bit state" in message


def test_level_bits_above_profile(artifact, tmp_path):
    profile = load_target(write_profile(tmp_path, {"max_level_bits = 8": "max_level_bits = 3"}))

    message = compile_error(artifact, profile)
    assert "layer 'hidden'" in message
    assert "4-bit state index" in message
    assert "3-bit limit of target 'custom'" in message


# Rules that come from a custom profile.


def test_reset_not_in_profile(artifact, tmp_path):
    profile = load_target(write_profile(tmp_path, {'resets = ["subtract", "zero", "none"]': 'resets = ["subtract"]'}))
    assert len(compile_artifact(copy.deepcopy(artifact), profile).layers) == 2
    artifact.manifest["layers"][1]["reset"] = "zero"

    message = compile_error(artifact, profile)
    assert "layer 'output'" in message
    assert "reset 'zero'" in message
    assert "target 'custom'" in message
    assert "(supported: subtract)" in message


def test_fan_in_over_limit(artifact, tmp_path):
    profile = load_target(write_profile(tmp_path, {"max_fan_in = 4096": "max_fan_in = 40"}))

    message = compile_error(artifact, profile)
    assert "layer 'hidden'" in message
    assert "fan-in 64" in message
    assert "limit of 40" in message
    assert "by 24" in message


def test_neurons_over_budget(artifact, tmp_path):
    profile = load_target(write_profile(tmp_path, {"neurons_per_core = 8192": "neurons_per_core = 20"}))

    message = compile_error(artifact, profile)
    assert "target 'custom'" in message
    assert f"needs {HIDDEN + CLASSES} neurons" in message
    assert "1 core(s) hold 20" in message
    assert f"{HIDDEN + CLASSES - 20} too many" in message
    assert "2 cores needed" in message


def test_synapses_over_budget(artifact, tmp_path):
    profile = load_target(write_profile(tmp_path, {"cores = 1": "cores = 2", "synapses_per_core = 2097152": "synapses_per_core = 500"}))
    synapses = HIDDEN * INPUTS + HIDDEN * HIDDEN + CLASSES * HIDDEN

    message = compile_error(artifact, profile)
    assert f"needs {synapses} synapses" in message
    assert "2 core(s) hold 1000" in message
    assert f"{synapses - 1000} too many" in message
    assert f"{-(-synapses // 500)} cores needed" in message


def test_other_frac_bits_rejected(artifact, tmp_path):
    profile = load_target(write_profile(tmp_path, {"frac_bits = 10": "frac_bits = 8"}))

    with pytest.raises(UserError) as caught:
        compile_artifact(artifact, profile)
    message = str(caught.value)
    assert "state.frac_bits=8" in message
    assert "exported for 'fpga-int8' with 10" in message


def test_other_decay_bits_rejected(artifact, tmp_path):
    profile = load_target(write_profile(tmp_path, {"[decay]\nbits = 12": "[decay]\nbits = 14"}))

    with pytest.raises(UserError, match="decay.bits=14"):
        compile_artifact(artifact, profile)


def test_compatible_profile_compiles(artifact, tmp_path):
    profile = load_target(write_profile(tmp_path, {"max_fan_in = 4096": "max_fan_in = 64"}))

    graph = compile_artifact(artifact, profile)
    assert graph.profile.name == "custom"
    assert graph.profile.resources.max_fan_in == 64


# Footprint.


def test_footprint_by_hand(artifact):
    footprint = estimate_footprint(compile_artifact(artifact))
    hidden, output = footprint.layers

    # Bits per layer, packed and rounded up to whole bytes. Weights take 8 bits
    # each. A state is a 4-bit level index, plus one bit for the spike that the
    # RLeaky layer feeds back. A level table contains 16 levels of the 16-bit
    # state. The decay (12 bits), threshold (16 bits) and each weight matrix's
    # shift (8 bits, with no multiplier for power-of-two scales) are equal
    # across a layer, so each is stored once.
    assert hidden.bytes == {
        "weights": (HIDDEN * INPUTS + HIDDEN * HIDDEN) * 8 // 8,
        "biases": 0,
        "scales": 2 * 8 // 8,
        "decays": math.ceil(12 / 8),
        "thresholds": 16 // 8,
        "states": HIDDEN * (LEVEL_BITS + 1) // 8,
        "level_tables": 16 * 16 // 8,
    }
    assert output.bytes == {
        "weights": CLASSES * HIDDEN * 8 // 8,
        "biases": 0,
        "scales": 8 // 8,
        "decays": math.ceil(12 / 8),
        "thresholds": 16 // 8,
        "states": CLASSES * LEVEL_BITS // 8,
        "level_tables": 16 * 16 // 8,
    }
    assert footprint.total_bytes == sum(hidden.bytes.values()) + sum(output.bytes.values())


def test_footprint_float32_larger(artifact):
    footprint = estimate_footprint(compile_artifact(artifact))
    hidden, output = footprint.layers

    assert hidden.float32_bits["weights"] == (HIDDEN * INPUTS + HIDDEN * HIDDEN) * 32
    assert output.float32_bits["weights"] == CLASSES * HIDDEN * 32
    assert footprint.float32_bytes > footprint.total_bytes
    assert footprint.float32_bytes > 3 * footprint.total_bytes


def test_footprint_core_mapping(artifact):
    mapping = estimate_footprint(compile_artifact(artifact)).mapping

    assert mapping.cores_needed == 1
    assert mapping.cores_available == 1
    assert mapping.demand["neurons"] == HIDDEN + CLASSES
    assert mapping.demand["synapses"] == HIDDEN * INPUTS + HIDDEN * HIDDEN + CLASSES * HIDDEN
    assert mapping.utilisation["neurons"] == pytest.approx((HIDDEN + CLASSES) / 8192)


def test_footprint_per_neuron_constants(artifact):
    before = estimate_footprint(compile_artifact(copy.deepcopy(artifact))).layers[0]
    artifact.arrays["hidden.threshold"][0] = 1000  # no longer equal across the layer

    after = estimate_footprint(compile_artifact(artifact)).layers[0]
    assert before.bytes["thresholds"] == 2
    assert after.bytes["thresholds"] == HIDDEN * 16 // 8


# Loading target profiles.


def test_load_shipped_target():
    profile = load_target("fpga-int8")

    assert profile.name == "fpga-int8"
    assert profile.weight_min == -127
    assert profile.weight_max == 127
    assert profile.state_frac_bits == 10
    assert profile.resources.max_fan_in == 4096


def test_load_unknown_target():
    with pytest.raises(UserError, match=r"unknown target 'no-such-chip'; shipped targets are: fpga-int4, fpga-int8"):
        load_target("no-such-chip")


def test_load_missing_toml(tmp_path):
    with pytest.raises(UserError, match=r"not found"):
        load_target(str(tmp_path / "absent.toml"))


def test_load_invalid_toml(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text('name = "broken"\n[weights\nbits = 8\n', encoding="utf-8")

    with pytest.raises(UserError) as caught:
        load_target(str(path))
    assert str(caught.value).startswith(f"{path}: invalid TOML")


def test_load_missing_key(tmp_path):
    path = write_profile(tmp_path, {"[threshold]\nbits = 16\n": "[threshold]\n"})

    with pytest.raises(UserError) as caught:
        load_target(path)
    assert str(caught.value) == f"{path}: key threshold.bits is missing"


def test_load_invalid_enum(tmp_path):
    path = write_profile(tmp_path, {'comparator = ">"': 'comparator = "=>"'})

    with pytest.raises(UserError) as caught:
        load_target(path)
    message = str(caught.value)
    assert path in message
    assert "key neuron.comparator" in message
    assert "invalid value '=>'" in message
    assert "allowed values are '>', '>='" in message


def test_load_invalid_reset_in_list(tmp_path):
    path = write_profile(tmp_path, {'resets = ["subtract", "zero", "none"]': 'resets = ["subtract", "halve"]'})

    with pytest.raises(UserError) as caught:
        load_target(path)
    message = str(caught.value)
    assert path in message
    assert "key neuron.resets" in message
    assert "invalid value 'halve'" in message
    assert "'subtract', 'zero', 'none'" in message


def test_load_invalid_choice(tmp_path):
    path = write_profile(tmp_path, {'scale = "power_of_two"': 'scale = "float"'})

    with pytest.raises(UserError) as caught:
        load_target(path)
    message = str(caught.value)
    assert path in message
    assert "key weights.scale" in message
    assert "'power_of_two', 'multiplier_shift'" in message


def test_load_unknown_key(tmp_path):
    path = write_profile(tmp_path, {"[state]\n": "[state]\ncolour = \"red\"\n"})

    with pytest.raises(UserError) as caught:
        load_target(path)
    message = str(caught.value)
    assert path in message
    assert "unknown key state.colour" in message
    assert re.search(r"known keys here are: .*frac_bits", message)


def test_load_integer_out_of_range(tmp_path):
    path = write_profile(tmp_path, {"[weights]\nbits = 8": "[weights]\nbits = 1"})

    with pytest.raises(UserError) as caught:
        load_target(path)
    assert str(caught.value) == f"{path}: key weights.bits must be an integer from 2 to 16, got 1"


def test_load_frac_bits_not_below_bits(tmp_path):
    path = write_profile(tmp_path, {"frac_bits = 10": "frac_bits = 16"})

    with pytest.raises(UserError, match=r"state.frac_bits \(16\) must be below state.bits \(16\)"):
        load_target(path)
