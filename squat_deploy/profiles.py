"""Target profiles: loading and validating ``targets/*.toml``.

A profile fixes every arithmetic choice of the integer neuron step and the
resources of the target. The choices are the bit widths, the rounding of each
shift, the overflow at each width, the spike comparator, the allowed resets
and when a layer's spikes reach the next layer. Every error names the file and the key.
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import tomllib
from pathlib import Path
from typing import Any

from squat_deploy.errors import UserError
from squat_deploy.quant.modes import Comparator, Overflow, Reset, Rounding, parse_enum

WEIGHT_SCALES = ("power_of_two", "multiplier_shift")
GRANULARITIES = ("per_tensor", "per_channel")
RESET_TIMINGS = ("next_step", "same_step")
DECAY_KINDS = ("multiply", "subtract_shift")
SYNAPSE_MODES = ("decay_then_add", "add_events_then_decay")
NEURON_TYPE_NAMES = ("Leaky", "RLeaky", "Synaptic", "RSynaptic")


@dataclasses.dataclass(frozen=True)
class Resources:
    """Resources of one chip, which the compiler counts a model against."""

    cores: int
    neurons_per_core: int
    synapses_per_core: int
    memory_per_core_bytes: int
    max_fan_in: int
    max_inputs: int
    max_outputs: int


@dataclasses.dataclass(frozen=True)
class TargetProfile:
    """One target's integer arithmetic and resources.

    The state grid has ``state_frac_bits`` fraction bits: a float state ``v``
    is the integer ``round(v * 2**state_frac_bits)``, so a threshold of 1.0 is
    ``2**state_frac_bits``.
    """

    name: str
    description: str
    source: str
    weight_bits: int
    weight_narrow_range: bool
    weight_scale: str
    multiplier_bits: int
    weight_granularity: str
    weight_min_shift: int
    weight_max_shift: int
    accumulator_bits: int
    current_bits: int
    current_overflow: Overflow
    state_bits: int
    state_frac_bits: int
    state_overflow: Overflow
    saturate_increment: bool
    rescale_rounding: Rounding
    level_tables: bool
    max_level_bits: int
    decay_kind: str
    decay_bits: int
    decay_rounding: Rounding
    beta_min: int
    beta_max: int
    alpha_min: int
    alpha_max: int
    threshold_bits: int
    threshold_shift: int
    comparator: Comparator
    resets: tuple[Reset, ...]
    reset_timing: str
    synapse: str
    neuron_types: tuple[str, ...]
    max_spikes: int
    max_spikes_output: int
    bias: bool
    max_input_events: int
    input_delay: int
    dense_delay: int
    resources: Resources

    @property
    def beta_range(self) -> tuple[int, int]:
        """Smallest and largest membrane decay constant ``k``."""
        return self.beta_min, self.beta_max

    @property
    def alpha_range(self) -> tuple[int, int]:
        """Smallest and largest synaptic decay constant ``k``."""
        return self.alpha_min, self.alpha_max

    @property
    def weight_max(self) -> int:
        """Largest weight magnitude; the grid is symmetric when narrow."""
        return (1 << (self.weight_bits - 1)) - 1

    @property
    def weight_min(self) -> int:
        return -self.weight_max if self.weight_narrow_range else -(1 << (self.weight_bits - 1))

    def to_dict(self) -> dict[str, Any]:
        """Return the profile as the nested TOML layout, for manifests."""
        return {
            "name": self.name,
            "description": self.description,
            "weights": {
                "bits": self.weight_bits,
                "narrow_range": self.weight_narrow_range,
                "scale": self.weight_scale,
                "multiplier_bits": self.multiplier_bits,
                "granularity": self.weight_granularity,
                "min_shift": self.weight_min_shift,
                "max_shift": self.weight_max_shift,
            },
            "accumulator": {"bits": self.accumulator_bits},
            "current": {"bits": self.current_bits, "overflow": self.current_overflow.value},
            "state": {
                "bits": self.state_bits,
                "frac_bits": self.state_frac_bits,
                "overflow": self.state_overflow.value,
                "saturate_increment": self.saturate_increment,
                "rescale_rounding": self.rescale_rounding.value,
                "level_tables": self.level_tables,
                "max_level_bits": self.max_level_bits,
            },
            "decay": {
                "kind": self.decay_kind,
                "bits": self.decay_bits,
                "rounding": self.decay_rounding.value,
                "beta_min": self.beta_min,
                "beta_max": self.beta_max,
                "alpha_min": self.alpha_min,
                "alpha_max": self.alpha_max,
            },
            "threshold": {"bits": self.threshold_bits, "shift": self.threshold_shift},
            "neuron": {
                "comparator": self.comparator.value,
                "resets": [reset.value for reset in self.resets],
                "reset_timing": self.reset_timing,
                "synapse": self.synapse,
                "types": list(self.neuron_types),
                "max_spikes": self.max_spikes,
                "max_spikes_output": self.max_spikes_output,
                "bias": self.bias,
                "max_input_events": self.max_input_events,
                "input_delay": self.input_delay,
                "dense_delay": self.dense_delay,
            },
            "resources": dataclasses.asdict(self.resources),
        }


def shipped_targets() -> dict[str, Path]:
    """Return the profiles shipped with the package, by name."""
    folder = importlib.resources.files("squat_deploy") / "targets"
    found = {}
    for entry in folder.iterdir():
        if entry.name.endswith(".toml"):
            found[entry.name[: -len(".toml")]] = Path(str(entry))
    return dict(sorted(found.items()))


def load_target(name_or_path: str | Path) -> TargetProfile:
    """Load a shipped profile by name, or any profile file by path."""
    text = str(name_or_path)
    shipped = shipped_targets()
    if text in shipped:
        path = shipped[text]
    elif text.endswith(".toml") or Path(text).exists():
        path = Path(text)
        if not path.is_file():
            raise UserError(f"target profile {text!r} not found; pass a TOML file or one of: {', '.join(shipped)}")
    else:
        raise UserError(f"unknown target {text!r}; shipped targets are: {', '.join(shipped)}, or pass the path of a TOML profile")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"{path}: cannot read target profile: {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise UserError(f"{path}: invalid TOML: {error}") from None
    return profile_from_dict(data, str(path))


def profile_from_dict(data: dict[str, Any], source: str) -> TargetProfile:
    """Validate a parsed profile; errors name ``source`` and the key.

    The width limits keep every product of the integer step inside int64:
    a 32-bit state times a 16-bit decay constant, a 40-bit accumulator times
    a 16-bit multiplier.
    """
    reader = _Reader(data, source)
    weights = reader.table("weights")
    accumulator = reader.table("accumulator")
    current = reader.table("current")
    state = reader.table("state")
    decay = reader.table("decay")
    threshold = reader.table("threshold")
    neuron = reader.table("neuron")
    resources = reader.table("resources")

    weight_bits = weights.integer("bits", 2, 16)
    decay_bits = decay.integer("bits", 1, 16)
    profile = TargetProfile(
        name=reader.string("name"),
        description=reader.string("description", default=""),
        source=source,
        weight_bits=weight_bits,
        weight_narrow_range=weights.boolean("narrow_range", default=True),
        weight_scale=weights.choice("scale", WEIGHT_SCALES),
        multiplier_bits=weights.integer("multiplier_bits", 1, 16, default=8),
        weight_granularity=weights.choice("granularity", GRANULARITIES, default="per_tensor"),
        weight_min_shift=weights.integer("min_shift", -40, 40, default=-40),
        weight_max_shift=weights.integer("max_shift", -40, 40, default=40),
        accumulator_bits=accumulator.integer("bits", 8, 40),
        current_bits=current.integer("bits", 4, 32),
        current_overflow=current.enum("overflow", Overflow),
        state_bits=state.integer("bits", 4, 32),
        state_frac_bits=state.integer("frac_bits", 0, 40),
        state_overflow=state.enum("overflow", Overflow),
        saturate_increment=state.boolean("saturate_increment", default=False),
        rescale_rounding=state.enum("rescale_rounding", Rounding),
        level_tables=state.boolean("level_tables"),
        max_level_bits=state.integer("max_level_bits", 1, 16, default=8),
        decay_kind=decay.choice("kind", DECAY_KINDS, default="multiply"),
        decay_bits=decay_bits,
        decay_rounding=decay.enum("rounding", Rounding),
        beta_min=decay.integer("beta_min", 0, 1 << decay_bits, default=0),
        beta_max=decay.integer("beta_max", 0, 1 << decay_bits, default=(1 << decay_bits) - 1),
        alpha_min=decay.integer("alpha_min", 0, 1 << decay_bits, default=0),
        alpha_max=decay.integer("alpha_max", 0, 1 << decay_bits, default=(1 << decay_bits) - 1),
        threshold_bits=threshold.integer("bits", 2, 32),
        threshold_shift=threshold.integer("shift", 0, 16, default=0),
        comparator=neuron.enum("comparator", Comparator),
        resets=tuple(neuron.enum_list("resets", Reset)),
        reset_timing=neuron.choice("reset_timing", RESET_TIMINGS, default="next_step"),
        synapse=neuron.choice("synapse", SYNAPSE_MODES, default="decay_then_add"),
        neuron_types=tuple(neuron.choice_list("types", NEURON_TYPE_NAMES, default=list(NEURON_TYPE_NAMES))),
        max_spikes=neuron.integer("max_spikes", 1, 255, default=1),
        max_spikes_output=neuron.integer("max_spikes_output", 1, 255, default=1),
        bias=neuron.boolean("bias", default=True),
        max_input_events=neuron.integer("max_input_events", 1, 1 << 16, default=1),
        input_delay=neuron.integer("input_delay", 0, 1, default=0),
        dense_delay=neuron.integer("dense_delay", 0, 1, default=0),
        resources=Resources(
            cores=resources.integer("cores", 1, 1 << 20),
            neurons_per_core=resources.integer("neurons_per_core", 1, 1 << 30),
            synapses_per_core=resources.integer("synapses_per_core", 1, 1 << 40),
            memory_per_core_bytes=resources.integer("memory_per_core_bytes", 1, 1 << 40),
            max_fan_in=resources.integer("max_fan_in", 1, 1 << 30),
            max_inputs=resources.integer("max_inputs", 1, 1 << 30, default=1 << 30),
            max_outputs=resources.integer("max_outputs", 1, 1 << 30, default=1 << 30),
        ),
    )
    for table in (reader, weights, accumulator, current, state, decay, threshold, neuron, resources):
        table.reject_unknown()
    if profile.weight_min_shift > profile.weight_max_shift:
        raise UserError(f"{source}: weights.min_shift ({profile.weight_min_shift}) is above weights.max_shift ({profile.weight_max_shift})")
    for name, (low, high) in (("beta", profile.beta_range), ("alpha", profile.alpha_range)):
        if low > high:
            raise UserError(f"{source}: decay.{name}_min ({low}) is above decay.{name}_max ({high})")
        if profile.decay_kind == "subtract_shift" and high > 62:
            raise UserError(f"{source}: decay.{name}_max ({high}) is a shift of a 64-bit value; use at most 62")
    if (profile.max_spikes > 1 or profile.max_spikes_output > 1) and profile.reset_timing != "same_step":
        raise UserError(f"{source}: neuron.max_spikes above 1 needs neuron.reset_timing = \"same_step\"")
    if profile.state_frac_bits >= profile.state_bits:
        raise UserError(
            f"{source}: state.frac_bits ({profile.state_frac_bits}) must be below state.bits "
            f"({profile.state_bits}) so that a threshold of 1.0 fits the state"
        )
    return profile


class _Reader:
    """Typed access to one TOML table that remembers which keys were read."""

    def __init__(self, data: Any, source: str, prefix: str = ""):
        self.source = source
        self.prefix = prefix
        if not isinstance(data, dict):
            raise UserError(f"{source}: [{prefix.rstrip('.')}] must be a table")
        self.data = data
        self.used: set[str] = set()

    def _where(self, key: str) -> str:
        return f"{self.source}: key {self.prefix}{key}"

    def _get(self, key: str, default: Any) -> Any:
        self.used.add(key)
        if key in self.data:
            return self.data[key]
        if default is _MISSING:
            raise UserError(f"{self._where(key)} is missing")
        return default

    def table(self, key: str) -> "_Reader":
        return _Reader(self._get(key, _MISSING), self.source, f"{self.prefix}{key}.")

    def string(self, key: str, default: Any = None) -> str:
        value = self._get(key, _MISSING if default is None else default)
        if not isinstance(value, str):
            raise UserError(f"{self._where(key)} must be a string, got {value!r}")
        return value

    def boolean(self, key: str, default: Any = None) -> bool:
        value = self._get(key, _MISSING if default is None else default)
        if not isinstance(value, bool):
            raise UserError(f"{self._where(key)} must be true or false, got {value!r}")
        return value

    def integer(self, key: str, low: int, high: int, default: Any = None) -> int:
        value = self._get(key, _MISSING if default is None else default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise UserError(f"{self._where(key)} must be an integer from {low} to {high}, got {value!r}")
        return value

    def choice(self, key: str, allowed: tuple[str, ...], default: Any = None) -> str:
        value = self._get(key, _MISSING if default is None else default)
        if value not in allowed:
            raise UserError(f"{self._where(key)}: invalid value {value!r}; allowed values are {', '.join(map(repr, allowed))}")
        return value

    def choice_list(self, key: str, allowed: tuple[str, ...], default: Any = None) -> list[str]:
        values = self._get(key, _MISSING if default is None else default)
        if not isinstance(values, list) or not values:
            raise UserError(f"{self._where(key)} must be a non-empty list")
        for value in values:
            if value not in allowed:
                raise UserError(f"{self._where(key)}: invalid value {value!r}; allowed values are {', '.join(map(repr, allowed))}")
        return values

    def enum(self, key: str, enum_type):
        value = self._get(key, _MISSING)
        try:
            return parse_enum(enum_type, value, self._where(key))
        except ValueError as error:
            raise UserError(str(error)) from None

    def enum_list(self, key: str, enum_type) -> list:
        values = self._get(key, _MISSING)
        if not isinstance(values, list) or not values:
            raise UserError(f"{self._where(key)} must be a non-empty list")
        return [self.enum_value(key, value, enum_type) for value in values]

    def enum_value(self, key: str, value: Any, enum_type):
        try:
            return parse_enum(enum_type, value, self._where(key))
        except ValueError as error:
            raise UserError(str(error)) from None

    def reject_unknown(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            known = ", ".join(sorted(self.used))
            raise UserError(f"{self.source}: unknown key {self.prefix}{unknown[0]}; known keys here are: {known}")


_MISSING = object()
