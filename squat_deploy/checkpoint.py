"""Trained-model checkpoints: network layout, target profile and weights in one file."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch

from squat_deploy.errors import UserError
from squat_deploy.files import atomic_output
from squat_deploy.nn.network import NetworkConfig, SpikingNetwork
from squat_deploy.profiles import TargetProfile, profile_from_dict

CHECKPOINT_FORMAT = "squat-deploy-checkpoint"
CHECKPOINT_VERSION = 1


@dataclasses.dataclass
class Checkpoint:
    """Trained model as ``squat train`` saves it and ``squat export`` and ``squat verify`` read it."""

    network: NetworkConfig
    profile: TargetProfile
    state_dict: dict[str, torch.Tensor]
    encoding: dict[str, Any]
    training: dict[str, Any]

    def build_network(self) -> SpikingNetwork:
        network = SpikingNetwork(self.network, self.profile)
        network.load_state_dict(self.state_dict)
        return network


def save_checkpoint(path: str | Path, checkpoint: Checkpoint) -> None:
    """Write the checkpoint through a temporary file in the same folder."""
    path = Path(path)
    payload = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "network": checkpoint.network.to_dict(),
        "profile": checkpoint.profile.to_dict(),
        "profile_source": checkpoint.profile.source,
        "state_dict": checkpoint.state_dict,
        "encoding": checkpoint.encoding,
        "training": checkpoint.training,
    }
    with atomic_output(path, create_folder=True) as temporary:
        torch.save(payload, temporary)


def _is_artifact(path: Path) -> bool:
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            return "manifest.json" in archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return False


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read a checkpoint; a missing or foreign file raises ``UserError``."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"checkpoint {path} not found; create one with `squat train`")
    if _is_artifact(path):
        raise UserError(f"{path} is an artifact, not a checkpoint; pass the .pt file written by `squat train`")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # torch raises many types for a foreign file
        raise UserError(f"{path}: not a squat-deploy checkpoint (torch cannot read it); pass a file written by `squat train`") from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise UserError(f"{path}: not a squat-deploy checkpoint; create one with `squat train`")
    if payload.get("version") != CHECKPOINT_VERSION:
        raise UserError(f"{path}: checkpoint version {payload.get('version')!r} is not supported (expected {CHECKPOINT_VERSION})")
    try:
        return Checkpoint(
            network=NetworkConfig.from_dict(payload["network"]),
            profile=profile_from_dict(payload["profile"], f"{path} (embedded profile {payload.get('profile_source')})"),
            state_dict=payload["state_dict"],
            encoding=payload["encoding"],
            training=payload["training"],
        )
    except (KeyError, TypeError, ValueError) as error:
        raise UserError(f"{path}: corrupt checkpoint: {error}") from None
