"""The exported integer model: one versioned file, written atomically.

An artifact is a zip archive holding ``manifest.json`` (human-readable: the
format version, the target profile, the layer graph, every bit width, and the
name, dtype and shape of each array) and one ``.npy`` file per integer array
under ``arrays/``. ``docs/artifact-format.md`` describes every field.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from squat_deploy.errors import UserError
from squat_deploy.files import atomic_output

FORMAT_NAME = "squat-deploy-artifact"
FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"


@dataclasses.dataclass
class Artifact:
    """Manifest and integer arrays of one exported model."""

    manifest: dict[str, Any]
    arrays: dict[str, np.ndarray]

    def array(self, name: str, where: str) -> np.ndarray:
        """Return array ``name``; ``where`` names the manifest field that refers to it."""
        if name not in self.arrays:
            raise UserError(f"corrupt artifact: {where} refers to array {name!r}, which the file does not contain")
        return self.arrays[name]


def write_artifact(path: str | Path, artifact: Artifact) -> None:
    """Write ``artifact`` to ``path`` through a temporary file, so a failure leaves no partial file."""
    path = Path(path)
    manifest = dict(artifact.manifest)
    manifest["arrays"] = {
        name: {"dtype": str(array.dtype), "shape": list(array.shape), "sha256": _digest(array)}
        for name, array in sorted(artifact.arrays.items())
    }
    with atomic_output(path) as temporary, zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(MANIFEST_NAME, json.dumps(manifest, indent=2, sort_keys=False) + "\n")
        for name, array in sorted(artifact.arrays.items()):
            buffer = io.BytesIO()
            np.save(buffer, np.asarray(array, order="C"), allow_pickle=False)
            archive.writestr(f"arrays/{name}.npy", buffer.getvalue())


def read_artifact(path: str | Path) -> Artifact:
    """Read and check an artifact; every problem raises ``UserError`` naming the file."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"artifact {path} not found; create one with `squat export`")
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if MANIFEST_NAME not in names:
                raise UserError(f"{path}: not a squat-deploy artifact (no {MANIFEST_NAME} inside)")
            manifest = json.loads(archive.read(MANIFEST_NAME))
            _check_header(manifest, path)
            arrays = {}
            for name, meta in manifest.get("arrays", {}).items():
                member = f"arrays/{name}.npy"
                if member not in names:
                    raise UserError(f"{path}: corrupt artifact: array {name!r} is listed but missing")
                array = np.load(io.BytesIO(archive.read(member)), allow_pickle=False)
                if str(array.dtype) != meta["dtype"] or list(array.shape) != meta["shape"] or _digest(array) != meta["sha256"]:
                    raise UserError(f"{path}: corrupt artifact: array {name!r} does not match its manifest entry")
                arrays[name] = array
    except zipfile.BadZipFile:
        raise UserError(f"{path}: not a squat-deploy artifact (not a zip archive); create one with `squat export`") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UserError(f"{path}: corrupt artifact: manifest is not valid JSON ({error})") from None
    except (ValueError, KeyError, OSError, EOFError) as error:
        raise UserError(f"{path}: corrupt artifact: {error}") from None
    return Artifact(manifest, arrays)


def _check_header(manifest: Any, path: Path) -> None:
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise UserError(f"{path}: not a squat-deploy artifact (manifest format is not {FORMAT_NAME!r})")
    version = manifest.get("version")
    if version != FORMAT_VERSION:
        raise UserError(
            f"{path}: artifact format version {version!r} is not supported; this squat-deploy reads "
            f"version {FORMAT_VERSION}; export the model again with this version"
        )


def _digest(array: np.ndarray) -> str:
    return hashlib.sha256(np.asarray(array, order="C").tobytes()).hexdigest()


def file_digest(path: str | Path) -> str:
    """Return the sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
