"""End-to-end: train on reduced digits, export, compile, simulate, verify."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from squat_deploy.cli import main
from squat_deploy.profiles import shipped_targets

REQUIRED_KEYS = {
    "target",
    "bit_exact",
    "spike_match_rate",
    "state_match_rate",
    "accuracy_float",
    "accuracy_fake_quant",
    "accuracy_integer",
    "footprint_bytes",
}


@pytest.mark.slow
@pytest.mark.parametrize("hidden_type", ["RLeaky", "RSynaptic"])
def test_reduced_digits_run_is_bit_exact(tmp_path, hidden_type):
    arguments = ["run", "--json", "--workdir", str(tmp_path), "--limit", "300", "--epochs", "4", "--hidden-size", "48", "--hidden-type", hidden_type]
    result = CliRunner().invoke(main, arguments)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)

    assert REQUIRED_KEYS <= summary.keys()
    assert summary["bit_exact"] is True
    assert summary["spike_match_rate"] == 1.0
    assert summary["state_match_rate"] == 1.0
    assert summary["test_samples"] == 300
    # Four epochs on 300 samples learn the task well above chance (0.1).
    assert summary["accuracy_integer"] > 0.3
    # float64 fake quantization rounds exactly as the integer step.
    assert summary["accuracy_fake_quant"] == summary["accuracy_integer"]
    assert 0 < summary["footprint_bytes"] < summary["footprint_float32_bytes"]


@pytest.mark.slow
@pytest.mark.parametrize("target", sorted(shipped_targets()))
def test_every_shipped_target_is_bit_exact(tmp_path, target):
    arguments = ["run", "--json", "--target", target, "--workdir", str(tmp_path), "--limit", "120", "--epochs", "2", "--hidden-size", "32"]
    result = CliRunner().invoke(main, arguments)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)

    assert summary["target"] == target
    assert summary["bit_exact"] is True
    assert summary["spike_match_rate"] == 1.0
    assert summary["state_match_rate"] == 1.0


def test_state_bits_rejected_without_tables(tmp_path):
    arguments = ["run", "--target", "loihi1", "--state-bits", "4", "--workdir", str(tmp_path), "--epochs", "1"]
    result = CliRunner().invoke(main, arguments)
    assert result.exit_code == 2
    assert "has no level tables" in result.output
    assert not (tmp_path / "model.pt").exists()


@pytest.mark.slow
def test_full_width_state_reports_fidelity(tmp_path):
    arguments = ["run", "--json", "--target", "loihi1", "--state-bits", "3", "--full-width-state", "--workdir", str(tmp_path), "--limit", "120", "--epochs", "2", "--hidden-size", "32"]
    result = CliRunner().invoke(main, arguments)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)

    # The simulator and torch agree exactly once both use full-width state.
    assert summary["bit_exact"] is True
    fidelity = summary["fidelity"]
    assert 0.0 <= fidelity["output_spike_match_rate"] <= 1.0
    assert 0.0 <= fidelity["accuracy_with_level_tables"] <= 1.0
    assert summary["accuracy_fake_quant"] == fidelity["accuracy_with_level_tables"]
