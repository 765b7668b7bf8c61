"""Quantization-aware training and evaluation of spiking classifiers.

The network reads a spike raster over time and the class is the output
neuron with the most spikes (the lowest index on a tie). Training minimises
the cross-entropy of the output spike counts, in fake-quantized mode, so the
weights, decays, thresholds and states the network learns with are those the
target will hold.
"""

from __future__ import annotations

import dataclasses
import logging
import random
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from squat_deploy.checkpoint import Checkpoint
from squat_deploy.data.digits import SpikeDataset, load_digits_split
from squat_deploy.errors import UserError
from squat_deploy.nn.context import Mode
from squat_deploy.nn.network import LayerConfig, NetworkConfig, SpikingNetwork
from squat_deploy.nn.neurons import NEURON_TYPES, StateQuantSpec
from squat_deploy.profiles import TargetProfile, load_target
from squat_deploy.quant.levels import LevelScheme

log = logging.getLogger(__name__)


@dataclasses.dataclass
class TrainConfig:
    """Everything that decides a training run; equal configs give equal models."""

    target: str = "fpga-int8"
    hidden_size: int = 128
    hidden_type: str = "auto"  # RLeaky, or RSynaptic where the target has only synaptic neurons
    output_type: str = "auto"  # Leaky, or Synaptic likewise
    reset: str = "auto"  # the target's first supported reset
    num_steps: int = 16
    state_bits: int | str | None = "auto"  # 4 where the target has level tables, else None
    state_scheme: str = "threshold-centered"
    lower_limit: float = 0.0
    upper_limit: float = 0.2
    input_pooling: int | str = "auto"  # 2 where the target takes fewer than 64 inputs
    classes: int | str = "auto"  # 10, or the target's output limit when lower
    learn_beta: bool = True
    learn_threshold: bool = False
    epochs: int = 15
    batch_size: int = 64
    learning_rate: float = 5e-3
    seed: int = 0
    limit: int | None = None

    def resolved(self, profile: TargetProfile) -> "TrainConfig":
        """Return a copy with every "auto" field replaced by the target's choice."""
        config = dataclasses.replace(self)
        if config.reset == "auto":
            config.reset = profile.resets[0].value
        if config.state_bits == "auto":
            config.state_bits = 4 if profile.level_tables else None
        if config.input_pooling == "auto":
            config.input_pooling = 1 if profile.resources.max_inputs >= 64 else 2
        if config.classes == "auto":
            config.classes = min(10, profile.resources.max_outputs)
        if config.hidden_type == "auto":
            config.hidden_type = "RLeaky" if "RLeaky" in profile.neuron_types else "RSynaptic"
        if config.output_type == "auto":
            config.output_type = "Leaky" if "Leaky" in profile.neuron_types else "Synaptic"
        return config

    def validate(self) -> None:
        for label, value in (("hidden type", self.hidden_type), ("output type", self.output_type)):
            if value not in NEURON_TYPES:
                raise UserError(f"invalid {label} {value!r}; choose one of {', '.join(NEURON_TYPES)}")
        if self.state_bits is not None and (not isinstance(self.state_bits, int) or not 1 <= self.state_bits <= 16):
            raise UserError(f"invalid state bits {self.state_bits}; use 1 to 16, or none for full-width state")
        try:
            LevelScheme(self.state_scheme)
        except ValueError:
            allowed = ", ".join(scheme.value for scheme in LevelScheme)
            raise UserError(f"invalid state scheme {self.state_scheme!r}; choose one of {allowed}") from None
        for label, value in (("hidden size", self.hidden_size), ("steps", self.num_steps), ("epochs", self.epochs), ("batch size", self.batch_size)):
            if value < 1:
                raise UserError(f"invalid {label} {value}; it must be at least 1")

    def network_config(self, input_size: int, num_classes: int) -> NetworkConfig:
        spec = None
        if self.state_bits is not None:
            spec = StateQuantSpec(
                num_bits=self.state_bits,
                scheme=LevelScheme(self.state_scheme),
                lower_limit=self.lower_limit,
                upper_limit=self.upper_limit,
            )
        learn = {"learn_beta": self.learn_beta, "learn_alpha": self.learn_beta, "learn_threshold": self.learn_threshold}
        return NetworkConfig(
            input_size,
            [
                LayerConfig("hidden", self.hidden_type, self.hidden_size, reset=self.reset, state_quant=spec, **learn),
                LayerConfig("output", self.output_type, num_classes, reset=self.reset, state_quant=spec, **learn),
            ],
        )


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def time_major(spikes: np.ndarray, dtype=torch.float32) -> torch.Tensor:
    """Turn a (batch, time, inputs) raster into a (time, batch, inputs) tensor."""
    return torch.as_tensor(spikes).permute(1, 0, 2).to(dtype)


def predict(counts: torch.Tensor) -> torch.Tensor:
    """Return the class with most spikes; argmax takes the first index on a tie."""
    return counts.argmax(dim=-1)


def evaluate(network: SpikingNetwork, dataset: SpikeDataset, mode: Mode, batch_size: int = 256) -> float:
    """Return the accuracy of ``network`` on ``dataset`` in ``mode``.

    Fake-quantized evaluation runs in float64, where every value on the
    target's grids is exact.
    """
    correct = 0
    dtype = torch.float64 if mode is Mode.FAKE_QUANT else torch.float32
    network = network.to(dtype)
    with torch.no_grad(), network.mode(mode):
        for start in range(0, len(dataset), batch_size):
            inputs = time_major(dataset.spikes[start : start + batch_size], dtype)
            counts = network(inputs).sum(dim=0)
            labels = torch.as_tensor(dataset.labels[start : start + batch_size])
            correct += int((predict(counts) == labels).sum())
    network.to(torch.float32)
    return correct / len(dataset)


def train(config: TrainConfig, progress: bool = True) -> tuple[Checkpoint, dict[str, Any]]:
    """Train on the bundled digits; return the checkpoint and a report."""
    profile = load_target(config.target)
    requested = config
    config = config.resolved(profile)
    config.validate()
    seed_everything(config.seed)
    train_set, test_set = load_digits_split(
        config.num_steps, seed=config.seed, limit=config.limit, pooling=config.input_pooling, classes=config.classes
    )
    network_config = config.network_config(train_set.spikes.shape[2], max(train_set.num_classes, test_set.num_classes))
    network = SpikingNetwork(network_config, profile)
    optimizer = torch.optim.Adam(network.parameters(), lr=config.learning_rate)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
    generator = torch.Generator().manual_seed(config.seed)
    loss_function = torch.nn.CrossEntropyLoss()

    bar = tqdm(range(config.epochs), desc="train", unit="epoch", disable=not progress)
    for _ in bar:
        order = torch.randperm(len(train_set), generator=generator).numpy()
        total_loss, correct = 0.0, 0
        with network.mode(Mode.FAKE_QUANT):
            for start in range(0, len(order), config.batch_size):
                batch = order[start : start + config.batch_size]
                inputs = time_major(train_set.spikes[batch])
                labels = torch.as_tensor(train_set.labels[batch])
                counts = network(inputs).sum(dim=0)
                loss = loss_function(counts, labels)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total_loss += loss.item() * len(batch)
                correct += int((predict(counts.detach()) == labels).sum())
        scheduler.step()
        bar.set_postfix(loss=f"{total_loss / len(order):.3f}", acc=f"{correct / len(order):.3f}")

    report = {
        "train_accuracy_fake_quant": evaluate(network, train_set, Mode.FAKE_QUANT),
        "test_accuracy_float": evaluate(network, test_set, Mode.FLOAT),
        "test_accuracy_fake_quant": evaluate(network, test_set, Mode.FAKE_QUANT),
    }
    log.info("test accuracy: float %.4f, fake-quantized %.4f", report["test_accuracy_float"], report["test_accuracy_fake_quant"])
    checkpoint = Checkpoint(
        network=network_config,
        profile=profile,
        state_dict={key: value.detach().clone() for key, value in network.state_dict().items()},
        encoding={
            "dataset": "digits",
            "encoder": "rate_integrate_fire",
            "num_steps": config.num_steps,
            "split_seed": config.seed,
            "limit": config.limit,
            "pooling": config.input_pooling,
            "classes": config.classes,
        },
        training={"config": dataclasses.asdict(requested), "resolved_config": dataclasses.asdict(config), "report": report},
    )
    return checkpoint, report
