"""QAT spiking neurons with snnTorch's update rules and quantized state.

One step of every type, with ``r = [mem[t-1] > threshold]`` the reset signal
taken from the previous state (``>=`` where the target's comparator is ``>=``)
and ``cur`` the input current of step ``t``:

    Leaky      mem = decay(mem, beta) + cur - r * threshold        (subtract)
    RLeaky     the same with cur += V @ spk[t-1] + b_V
    Synaptic   syn = cast_current(decay(syn, alpha) + cur)
               mem = decay(mem, beta) + syn - r * threshold
    RSynaptic  the same with cur += V @ spk[t-1] + b_V

then ``mem = snap(cast_state(mem))``, ``syn = snap(syn)`` and
``spk = [mem > threshold]``. Outside float mode a Leaky type's input current
also passes ``cast_current``. Where the profile sets ``reset_timing =
"same_step"`` (Loihi, Xylo) there is no reset term from the previous step.
Instead a spiking neuron's new membrane is reset at once, minus the threshold
(subtract) or to zero (zero), and then cast and snapped again.

Reset to zero follows snnTorch 1.0, which differs by type. Leaky clears the
previous membrane before the decay, so the step's input survives
(``mem = cur``). The other three set the new membrane to zero and keep the
synaptic current. Reset ``none`` only integrates.

The arithmetic of ``decay``, ``cast_*``, ``snap`` and the comparison comes
from the network's context: float (snnTorch's), fake-quantized (training) or
integer (the target's exact step); see ``squat_deploy.nn.arith``.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import torch
from torch import nn

from squat_deploy.nn.arith import FakeQuantArith, FloatArith, IntegerArith
from squat_deploy.nn.context import Mode, QuantContext
from squat_deploy.nn.linear import QuantLinear
from squat_deploy.quant.fixed import straight_through
from squat_deploy.quant.levels import LevelScheme, float_levels, integer_levels
from squat_deploy.quant.modes import Reset

NEURON_TYPES = ("Leaky", "RLeaky", "Synaptic", "RSynaptic")


@dataclasses.dataclass(frozen=True)
class StateQuantSpec:
    """A level table in snnTorch's ``state_quant`` terms."""

    num_bits: int
    scheme: LevelScheme = LevelScheme.THRESHOLD_CENTERED
    threshold: float = 1.0
    lower_limit: float = 0.0
    upper_limit: float = 0.2
    multiplier: float | None = None
    # Trained levels: the table above only initialises them.
    learnable: bool = False

    def float_levels(self) -> list[float]:
        return float_levels(self.num_bits, self.scheme, self.threshold, self.lower_limit, self.upper_limit, self.multiplier)

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["scheme"] = self.scheme.value
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "StateQuantSpec":
        return cls(**{"learnable": False, **data, "scheme": LevelScheme(data["scheme"])})


class NeuronState(NamedTuple):
    """State carried between steps; ``syn`` and ``spk`` are None where unused."""

    mem: torch.Tensor
    syn: torch.Tensor | None
    spk: torch.Tensor | None


class QuantNeuron(nn.Module):
    """Base of the four neuron types; ``neuron_type`` picks the update."""

    neuron_type = "Leaky"
    synaptic = False
    recurrent = False

    def __init__(
        self,
        size: int,
        context: QuantContext,
        beta: float | torch.Tensor = 0.9,
        alpha: float | torch.Tensor = 0.8,
        threshold: float | torch.Tensor = 1.0,
        reset: Reset | str = Reset.SUBTRACT,
        learn_beta: bool = False,
        learn_alpha: bool = False,
        learn_threshold: bool = False,
        state_quant: StateQuantSpec | None = None,
        recurrent_bias: bool = True,
    ):
        super().__init__()
        self.size = size
        self.context = context
        self.reset_mechanism = Reset(reset)
        self.state_quant = state_quant
        self.beta = _parameter(beta, learn_beta)
        self.alpha = _parameter(alpha, learn_alpha) if self.synaptic else None
        self.threshold = _parameter(threshold, learn_threshold)
        self.recurrent_linear = QuantLinear(size, size, context, bias=recurrent_bias) if self.recurrent else None
        # Set by the network on its last layer, whose spike count per step may be capped lower.
        self.is_output = False
        self._float_levels = None
        self._integer_levels = None
        self.level_offset = None
        self.level_log_scales = None
        if state_quant is not None and state_quant.learnable:
            # The table starts as the spec's float64 levels. Training shifts
            # the whole table and scales each gap by exp(log scale) > 0, so
            # the table stays sorted and starts exactly at the fixed one.
            self._initial_levels = torch.tensor(sorted(state_quant.float_levels()), dtype=torch.float64)
            self.level_offset = nn.Parameter(torch.zeros(1))
            self.level_log_scales = nn.Parameter(torch.zeros(len(self._initial_levels) - 1))
        elif state_quant is not None:
            # Zero-centred tables with small steps can come out of order by
            # float rounding; the binary search needs them sorted.
            self._float_levels = torch.tensor(sorted(state_quant.float_levels()), dtype=torch.float32)
            self._integer_levels = torch.tensor(
                integer_levels(state_quant.float_levels(), context.profile.state_frac_bits), dtype=torch.int64
            )

    @property
    def learnable_levels(self) -> bool:
        return self.level_offset is not None

    def learned_float_levels(self) -> torch.Tensor:
        """Return the learnable table in float units, float64, ascending.

        Level ``i`` is ``initial[i] + offset + sum_{j<i} gap[j] * (exp(s[j]) - 1)``
        with ``gap`` the initial gaps and ``s`` the log scales. It is
        computed in float64 whatever the parameters' dtype, so the integer
        table comes out the same in training and at export. A running
        maximum keeps it non-decreasing against float rounding.
        """
        initial = self._initial_levels
        growth = torch.diff(initial) * torch.expm1(self.level_log_scales.double())
        shift = torch.cat([torch.zeros(1, dtype=torch.float64), torch.cumsum(growth, dim=0)])
        levels = initial + self.level_offset.double() + shift
        return torch.cummax(levels, dim=0).values

    @property
    def integer_levels(self) -> torch.Tensor | None:
        """The level table in state LSBs, or None when the state is not quantized."""
        if self.learnable_levels:
            with torch.no_grad():
                return torch.round(self.learned_float_levels() * 2.0**self.context.profile.state_frac_bits).long()
        return self._integer_levels

    def _fake_quant_levels(self) -> torch.Tensor:
        """Return the table in state LSBs for fake-quantized mode, with a gradient to learnable levels."""
        if not self.learnable_levels:
            return self._integer_levels
        lsbs = self.learned_float_levels() * 2.0**self.context.profile.state_frac_bits
        return straight_through(lsbs, torch.round(lsbs))

    def arithmetic(self):
        mode = self.context.mode
        if mode is Mode.FLOAT:
            if not self.context.float_state_quant:
                return FloatArith(None)
            return FloatArith(self.learned_float_levels() if self.learnable_levels else self._float_levels)
        if not self.context.use_levels:
            levels = None
        elif mode is Mode.FAKE_QUANT:
            levels = self._fake_quant_levels()
        else:
            levels = self.integer_levels
        if mode is Mode.FAKE_QUANT:
            return FakeQuantArith(self.context.profile, levels)
        return IntegerArith(self.context.profile, levels)

    def initial_state(self, batch: int, like: torch.Tensor) -> NeuronState:
        dtype = torch.int64 if self.context.mode is Mode.TARGET else like.dtype
        zeros = torch.zeros(batch, self.size, dtype=dtype, device=like.device)
        return NeuronState(
            mem=zeros,
            syn=zeros if self.synaptic else None,
            spk=zeros if self.recurrent else None,
        )

    def forward(self, current: torch.Tensor, state: NeuronState, events=None) -> tuple[torch.Tensor, NeuronState]:
        """Advance one step; return the spikes and the new state.

        ``events`` is ``(linear, spikes)``, the dense connection and its input
        spikes behind ``current``. Targets that add events one at a time into
        the synaptic current (``neuron.synapse = "add_events_then_decay"``)
        need it in target mode.
        """
        arith = self.arithmetic()
        profile = self.context.profile
        quantized = self.context.mode is not Mode.FLOAT
        threshold = arith.threshold(self.threshold)
        same_step = quantized and profile.reset_timing == "same_step"
        reset = None if same_step else arith.reset_signal(state.mem, threshold)

        mem_before = state.mem
        if reset is not None and self.reset_mechanism is Reset.ZERO and self.neuron_type == "Leaky":
            mem_before = (1 - reset) * mem_before

        syn = None
        if self.synaptic and quantized and profile.synapse == "add_events_then_decay":
            syn = arith.decay(self._add_events(arith, state, current, events), self.alpha, profile.alpha_range)
            mem = self._membrane(arith, mem_before, syn)
        elif self.synaptic:
            feedback = self.recurrent_linear(state.spk) if self.recurrent else None
            syn = arith.decay(state.syn, self.alpha, profile.alpha_range) + current
            if feedback is not None:
                syn = syn + feedback
            syn = arith.cast_current(syn)
            mem = self._membrane(arith, mem_before, syn)
        elif not quantized:
            # snnTorch's order of the sums, so float mode matches it bit for bit.
            mem = arith.decay(mem_before, self.beta, profile.beta_range) + current
            if self.recurrent:
                mem = mem + self.recurrent_linear(state.spk)
        else:
            # The input current passes the current register, as in a Synaptic
            # neuron whose current does not persist.
            total = current if not self.recurrent else current + self.recurrent_linear(state.spk)
            mem = self._membrane(arith, mem_before, arith.cast_current(total))

        if reset is not None and self.reset_mechanism is Reset.SUBTRACT:
            mem = mem - reset * threshold
        elif reset is not None and self.reset_mechanism is Reset.ZERO and self.neuron_type != "Leaky":
            mem = (1 - reset) * mem

        mem = arith.snap(arith.cast_state(mem))
        if syn is not None:
            syn = arith.snap(syn)
        max_spikes = 1
        if quantized:
            max_spikes = profile.max_spikes_output if self.is_output else profile.max_spikes
        spk = arith.fire(mem, threshold, max_spikes)
        if same_step:
            mem = self._reset_now(arith, mem, spk.detach(), threshold)
        return spk, NeuronState(mem=mem, syn=syn, spk=spk if self.recurrent else None)

    def _membrane(self, arith, mem, syn):
        """Return ``decay(mem) + syn``, saturating the increment first where the profile sets ``saturate_increment``."""
        profile = self.context.profile
        decayed = arith.decay(mem, self.beta, profile.beta_range)
        if self.context.mode is Mode.FLOAT or not profile.saturate_increment:
            return decayed + syn
        # Xylo computes the increment -leak + syn in the state width before adding it.
        increment = arith.cast_state(arith.wrap_state(decayed - mem) + syn)
        return mem + increment

    def _add_events(self, arith, state, current, events):
        """Add this step's input events, then the recurrent ones, into the synaptic current."""
        if self.context.mode is Mode.TARGET:
            linear, spikes = events
            syn = linear.accumulate_events(state.syn, spikes)
            if self.recurrent:
                syn = self.recurrent_linear.accumulate_events(syn, state.spk)
            return syn
        total = state.syn + current
        if self.recurrent:
            total = total + self.recurrent_linear(state.spk)
        return arith.cast_current(total)

    def _reset_now(self, arith, mem, spk, threshold):
        """Apply the reset in the step that fired (``reset_timing = "same_step"``)."""
        if self.reset_mechanism is Reset.SUBTRACT:
            return arith.snap(arith.cast_state(mem - spk * threshold))
        if self.reset_mechanism is Reset.ZERO:
            return arith.snap(mem * (spk == 0).to(mem.dtype))
        return mem


def _parameter(value, learn: bool) -> torch.Tensor:
    tensor = torch.as_tensor(value, dtype=torch.float32).clone()
    if learn:
        return nn.Parameter(tensor)
    return nn.Buffer(tensor)


class QLeaky(QuantNeuron):
    """First-order leaky integrate-and-fire neuron (snnTorch ``Leaky``)."""

    neuron_type = "Leaky"


class QRLeaky(QuantNeuron):
    """Leaky neuron with all-to-all recurrent weights over its own spikes (``RLeaky``)."""

    neuron_type = "RLeaky"
    recurrent = True


class QSynaptic(QuantNeuron):
    """Second-order neuron with a decaying synaptic current (``Synaptic``)."""

    neuron_type = "Synaptic"
    synaptic = True


class QRSynaptic(QuantNeuron):
    """Synaptic neuron with all-to-all recurrent weights (``RSynaptic``)."""

    neuron_type = "RSynaptic"
    synaptic = True
    recurrent = True


NEURON_CLASSES = {cls.neuron_type: cls for cls in (QLeaky, QRLeaky, QSynaptic, QRSynaptic)}
