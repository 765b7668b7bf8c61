"""Width and capability checks: reject what the target cannot hold.

Each failure raises ``WidthError`` naming the layer, the value, the limit and
what to change.
"""

from __future__ import annotations

import numpy as np

from squat_deploy.compiler.graph import DenseOp, IntegerGraph, NeuronOp
from squat_deploy.errors import WidthError
from squat_deploy.profiles import TargetProfile


def _signed_max(bits: int) -> int:
    return (1 << (bits - 1)) - 1


def check_graph(graph: IntegerGraph) -> None:
    """Check every layer of ``graph`` against its profile."""
    profile = graph.profile
    target = f"target {profile.name!r}"
    if graph.input_size > profile.resources.max_inputs:
        raise WidthError(
            f"the model has {graph.input_size} inputs but {target} takes at most {profile.resources.max_inputs} "
            f"({graph.input_size - profile.resources.max_inputs} too many); reduce the input channels"
        )
    outputs = graph.layers[-1].size
    if outputs > profile.resources.max_outputs:
        raise WidthError(
            f"the model has {outputs} output neurons but {target} has at most {profile.resources.max_outputs} "
            f"({outputs - profile.resources.max_outputs} too many); use fewer classes"
        )
    for layer in graph.layers:
        check_layer(layer, profile)


def check_layer(layer: NeuronOp, profile: TargetProfile) -> None:
    where = f"layer {layer.name!r}"
    target = f"target {profile.name!r}"
    if layer.neuron_type not in profile.neuron_types:
        allowed = ", ".join(profile.neuron_types)
        raise WidthError(f"{where}: neuron type {layer.neuron_type} is not supported by {target} (supported: {allowed}); train with one of those")
    if layer.reset not in profile.resets:
        allowed = ", ".join(reset.value for reset in profile.resets)
        raise WidthError(f"{where}: reset {layer.reset.value!r} is not supported by {target} (supported: {allowed}); train with one of those")
    fan_in = layer.dense.weight.shape[1]
    if fan_in > profile.resources.max_fan_in:
        raise WidthError(
            f"{where}: fan-in {fan_in} exceeds the {target} limit of {profile.resources.max_fan_in} by "
            f"{fan_in - profile.resources.max_fan_in}; use fewer inputs per neuron"
        )
    # Events that add straight into a saturating synaptic current need no accumulator.
    has_accumulator = not (layer.synaptic and profile.synapse == "add_events_then_decay")
    _check_dense(layer.dense, f"{where} dense weights", profile, has_accumulator)
    if layer.recurrent is not None:
        _check_dense(layer.recurrent, f"{where} recurrent weights", profile, has_accumulator)

    for label, constants, (low, high) in (("beta", layer.beta, profile.beta_range), ("alpha", layer.alpha, profile.alpha_range)):
        if constants is None:
            continue
        bad = np.flatnonzero((constants < low) | (constants > high))
        if bad.size:
            value = int(constants[bad[0]])
            unit = 1 << profile.decay_bits
            raise WidthError(
                f"{where}: {label} constant {value} (neuron {bad[0]}) cannot be expressed with the {profile.decay_bits}-bit "
                f"decay of {target} ({low} to {high}, i.e. {label} from {low / unit:.6g} to {high / unit:.6g}); "
                f"train again with --target {profile.name}"
            )

    shift = profile.threshold_shift
    threshold_max = _signed_max(profile.threshold_bits) << shift
    bad = np.flatnonzero((layer.threshold < 1 << shift) | (layer.threshold > threshold_max) | (layer.threshold % (1 << shift) != 0))
    if bad.size:
        value = int(layer.threshold[bad[0]])
        allowed = f"1 to {threshold_max}" if shift == 0 else f"multiples of {1 << shift} from {1 << shift} to {threshold_max}"
        raise WidthError(
            f"{where}: threshold {value} (neuron {bad[0]}) does not fit the {profile.threshold_bits}-bit threshold of "
            f"{target} ({allowed} state LSBs); lower the threshold or train again with --target {profile.name}"
        )
    state_max = _signed_max(profile.state_bits)
    if int(layer.threshold.max()) > state_max:
        raise WidthError(
            f"{where}: threshold {int(layer.threshold.max())} is above the largest {profile.state_bits}-bit state "
            f"{state_max}, so the neuron could never fire; lower the threshold"
        )

    if layer.levels is not None:
        _check_levels(layer, where, target, profile)


def _check_dense(dense: DenseOp, where: str, profile: TargetProfile, has_accumulator: bool = True) -> None:
    target = f"target {profile.name!r}"
    low, high = profile.weight_min, profile.weight_max
    if dense.weight.size and (dense.weight.min() < low or dense.weight.max() > high):
        value = int(dense.weight.min()) if dense.weight.min() < low else int(dense.weight.max())
        raise WidthError(
            f"{where}: weight {value} does not fit the {profile.weight_bits}-bit weights of {target} ({low} to {high}); "
            f"train again with --target {profile.name}"
        )
    if dense.bias is not None and not profile.bias:
        raise WidthError(f"{where}: the layer has a bias, but {target} has no bias input on this path; train without bias")
    outside = dense.shift[(dense.shift < profile.weight_min_shift) | (dense.shift > profile.weight_max_shift)]
    if outside.size:
        raise WidthError(
            f"{where}: weight scale shift {int(outside[0])} is outside the range {profile.weight_min_shift} to "
            f"{profile.weight_max_shift} of {target}; train again with --target {profile.name}"
        )
    if dense.weight.size and not dense.weight.any():
        raise WidthError(
            f"{where}: every weight rounds to zero at {profile.weight_bits} bits on {target}; the layer would carry "
            f"no signal; check the trained weights or use more weight bits"
        )
    accumulator_max = _signed_max(profile.accumulator_bits)
    if has_accumulator and dense.max_accumulator > accumulator_max:
        raise WidthError(
            f"{where}: the worst-case accumulator sum {dense.max_accumulator} exceeds the {profile.accumulator_bits}-bit "
            f"accumulator of {target} (max {accumulator_max}); reduce the fan-in or the weight magnitudes, or widen the accumulator"
        )
    _check_scale(dense, where, profile)


def _check_scale(dense: DenseOp, where: str, profile: TargetProfile) -> None:
    target = f"target {profile.name!r}"
    if profile.weight_scale == "power_of_two" and not np.all(dense.multiplier == 1):
        raise WidthError(
            f"{where}: a weight scale multiplier other than 1 needs scale = \"multiplier_shift\", but {target} "
            f"only shifts; train again with --target {profile.name}"
        )
    multiplier_max = (1 << profile.multiplier_bits) - 1
    if dense.multiplier.min() < 1 or dense.multiplier.max() > multiplier_max:
        raise WidthError(
            f"{where}: weight scale multiplier {int(dense.multiplier.max())} does not fit the {profile.multiplier_bits}-bit "
            f"multiplier of {target} (1 to {multiplier_max})"
        )
    if np.abs(dense.shift).max(initial=0) > 62:
        raise WidthError(f"{where}: weight scale shift {int(np.abs(dense.shift).max())} is beyond 62 bits; check the exported scales")
    # The rescaled current must fit the 64-bit datapath of the emulation before the cast.
    left = np.maximum(-dense.shift, 0)
    largest = dense.max_accumulator * int(dense.multiplier.max()) * (1 << int(left.max(initial=0)))
    if largest >= 1 << 62:
        raise WidthError(f"{where}: the rescaled current can reach {largest}, beyond 62 bits; lower the weight scale")


def _check_levels(layer: NeuronOp, where: str, target: str, profile: TargetProfile) -> None:
    levels = layer.levels
    if not profile.level_tables:
        raise WidthError(
            f"{where}: the model stores its state as a {layer.level_bits}-bit level index, but {target} has no level "
            f"tables; train with --state-bits none for this target, or export with --full-width-state to deploy "
            f"full-width states and see what that changes in squat verify"
        )
    if layer.level_bits is None or layer.level_bits > profile.max_level_bits:
        raise WidthError(
            f"{where}: a {layer.level_bits}-bit state index exceeds the {profile.max_level_bits}-bit limit of {target}; "
            f"train with at most {profile.max_level_bits} state bits"
        )
    if levels.size != 1 << layer.level_bits:
        raise WidthError(f"{where}: level table has {levels.size} entries, expected 2**{layer.level_bits} = {1 << layer.level_bits}")
    if np.any(np.diff(levels) < 0):
        raise WidthError(f"{where}: level table is not sorted ascending; export the model again")
    bits = profile.state_bits
    if layer.synaptic:
        # The synaptic current snaps to the same table, so it must fit the current width too.
        bits = min(bits, profile.current_bits)
    state_max = _signed_max(bits)
    outside = levels[(levels < -state_max - 1) | (levels > state_max)]
    if outside.size:
        width = "state" if bits == profile.state_bits else "current and state"
        raise WidthError(
            f"{where}: level {int(outside[0])} does not fit the {bits}-bit {width} of {target}; "
            f"narrow the level range (lower_limit, upper_limit) or use a wider state"
        )
