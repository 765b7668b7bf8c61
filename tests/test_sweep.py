"""The bit-width sweep: cell aliasing, grid parsing, one tiny real sweep, resuming, and ``squat sweep``.

One sweep on the bundled digits (60 samples, 16 hidden neurons, one epoch,
weights float and 4 bits, states float and 2 bits, every method) runs once
for this module. The tests that resume or change it work on copies of its
folder.
"""

from __future__ import annotations

import csv
import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result

from squat_deploy.checkpoint import load_checkpoint
from squat_deploy.cli import main
from squat_deploy.errors import UserError
from squat_deploy.quant.levels import float_levels, integer_levels
from squat_deploy.sweep import COLUMNS, FLOAT, METHODS, Cell, Sweep, SweepConfig, parse_bits, parse_methods
from squat_deploy.train import TrainConfig

F = FLOAT
STEPS, HIDDEN, STATE_FRAC_BITS = 16, 16, 10  # digits steps, hidden size, fpga-int8 state fraction bits
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PLOTS = ("accuracy_vs_bits.png", "state_histogram.png", "raster.png")

# Every cell of the tiny grid: (method, weight bits, state bits) -> (the canonical cell, its training key).
GRID = {
    ("ptq", F, F): (("ptq", F, F), "float"),
    ("ptq", F, 2): (("ptq", F, 2), "float"),
    ("ptq", 4, F): (("ptq", 4, F), "float"),
    ("ptq", 4, 2): (("ptq", 4, 2), "float"),
    ("wqat", F, F): (("ptq", F, F), "float"),
    ("wqat", F, 2): (("ptq", F, 2), "float"),
    ("wqat", 4, F): (("wqat", 4, F), "wqat_w4_sfloat"),
    ("wqat", 4, 2): (("wqat", 4, 2), "wqat_w4_sfloat"),
    ("sqat-uniform", F, F): (("ptq", F, F), "float"),
    ("sqat-uniform", F, 2): (("sqat-uniform", F, 2), "sqat-uniform_wfloat_s2"),
    ("sqat-uniform", 4, F): (("ptq", 4, F), "float"),
    ("sqat-uniform", 4, 2): (("sqat-uniform", 4, 2), "sqat-uniform_wfloat_s2"),
    ("sqat-threshold", F, F): (("ptq", F, F), "float"),
    ("sqat-threshold", F, 2): (("sqat-threshold", F, 2), "sqat-threshold_wfloat_s2"),
    ("sqat-threshold", 4, F): (("ptq", 4, F), "float"),
    ("sqat-threshold", 4, 2): (("sqat-threshold", 4, 2), "sqat-threshold_wfloat_s2"),
    ("wqat+sqat", F, F): (("ptq", F, F), "float"),
    ("wqat+sqat", F, 2): (("sqat-threshold", F, 2), "sqat-threshold_wfloat_s2"),
    ("wqat+sqat", 4, F): (("wqat", 4, F), "wqat_w4_sfloat"),
    ("wqat+sqat", 4, 2): (("wqat+sqat", 4, 2), "wqat+sqat_w4_s2"),
    ("wqat+sqat-learned", F, F): (("ptq", F, F), "float"),
    ("wqat+sqat-learned", F, 2): (("wqat+sqat-learned", F, 2), "wqat+sqat-learned_wfloat_s2"),
    ("wqat+sqat-learned", 4, F): (("wqat", 4, F), "wqat_w4_sfloat"),
    ("wqat+sqat-learned", 4, 2): (("wqat+sqat-learned", 4, 2), "wqat+sqat-learned_w4_s2"),
}
OTHER_WIDTHS = {
    ("wqat", 2, 8): (("wqat", 2, 8), "wqat_w2_sfloat"),
    ("sqat-uniform", 8, 4): (("sqat-uniform", 8, 4), "sqat-uniform_wfloat_s4"),
    ("wqat+sqat", 8, 4): (("wqat+sqat", 8, 4), "wqat+sqat_w8_s4"),
    ("wqat+sqat-learned", 2, 8): (("wqat+sqat-learned", 2, 8), "wqat+sqat-learned_w2_s8"),
}
CANONICAL_NAMES = {Cell(*canonical).name for canonical, _ in GRID.values()}
MODEL_KEYS = {key for _, key in GRID.values()}


def tiny_train() -> TrainConfig:
    return TrainConfig(limit=60, hidden_size=16, epochs=1)


def tiny_config(**changes) -> SweepConfig:
    settings = {"train": tiny_train(), "weight_bits": [F, 4], "state_bits": [F, 2], "finetune_epochs": 1, **changes}
    return SweepConfig(**settings)


def by_cell(rows: list[dict]) -> dict[tuple, dict]:
    return {(row["method"], row["weight_bits"], row["state_bits"]): row for row in rows}


def without_timing(rows: list[dict]) -> list[dict]:
    return [{key: value for key, value in row.items() if not key.endswith("_seconds")} for row in rows]


@pytest.fixture(scope="module")
def swept(tmp_path_factory) -> tuple[Path, list[dict]]:
    """The folder and rows of the tiny sweep, run once for the module."""
    folder = tmp_path_factory.mktemp("sweep") / "grid"
    rows = Sweep(tiny_config(), folder, progress=False).run()
    return folder, rows


@pytest.fixture
def copy(swept, tmp_path) -> Path:
    """A private copy of the tiny sweep's folder."""
    return Path(shutil.copytree(swept[0], tmp_path / "grid"))


@pytest.fixture
def no_work(monkeypatch):
    """Make any training or evaluation fail the test."""

    def fail_if_called(*args, **kwargs):
        raise AssertionError("the sweep trained or evaluated a cell that it should have reused")

    monkeypatch.setattr("squat_deploy.sweep.fit", fail_if_called)
    monkeypatch.setattr("squat_deploy.sweep.verification_summary", fail_if_called)


@pytest.fixture
def evaluated(monkeypatch) -> list[str]:
    """Record the name of every cell that ``Sweep._evaluate`` evaluates."""
    names: list[str] = []
    original = Sweep._evaluate

    def counting(self, cell):
        names.append(cell.name)
        return original(self, cell)

    monkeypatch.setattr(Sweep, "_evaluate", counting)
    return names


# Cells -----------------------------------------------------------------------


CELL_CASES = {**GRID, **OTHER_WIDTHS}


@pytest.mark.parametrize(("cell", "expected"), list(CELL_CASES.items()), ids=[Cell(*cell).name for cell in CELL_CASES])
def test_cell_canonical(cell, expected):
    canonical, key = expected
    result = Cell(*cell).canonical()
    assert result == Cell(*canonical)
    assert result.training_key() == key
    assert result.canonical() == result


def test_cell_name():
    assert Cell("wqat+sqat", F, 2).name == "wqat+sqat_wfloat_s2"
    assert Cell("ptq", 8, F).name == "ptq_w8_sfloat"


# Parsing -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("float,8,4,2", [F, 8, 4, 2]), (" Float , 16 ,1", [F, 16, 1]), ("4", [4]), ("float", [F])],
)
def test_parse_bits_valid(text, expected):
    assert parse_bits(text, "weight bits") == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("8,x", "invalid state bits 'x'; give a comma-separated list of whole numbers and 'float'"),
        ("4.5", "invalid state bits '4.5'"),
        ("", "invalid state bits ''"),
        ("4,", "invalid state bits ''"),
        ("0", "invalid state bits 0; use 1 to 16 bits, or 'float'"),
        ("17", "invalid state bits 17; use 1 to 16 bits"),
        ("-2", "invalid state bits -2; use 1 to 16 bits"),
        ("4,4", "invalid state bits '4,4'; list each width once"),
        ("8,08", "list each width once"),
        ("float,FLOAT", "list each width once"),
    ],
)
def test_parse_bits_invalid(text, message):
    with pytest.raises(UserError) as error:
        parse_bits(text, "state bits")
    assert message in str(error.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("all", list(METHODS)), (" ALL ", list(METHODS)), ("ptq, wqat+sqat", ["ptq", "wqat+sqat"])],
)
def test_parse_methods_valid(text, expected):
    assert parse_methods(text) == expected


def test_parse_methods_all_six():
    assert parse_methods("all") == ["ptq", "wqat", "sqat-uniform", "sqat-threshold", "wqat+sqat", "wqat+sqat-learned"]


@pytest.mark.parametrize(("text", "name"), [("foo", "'foo'"), ("ptq,bar", "'bar'"), ("", "''"), (" , ", "' , '")])
def test_parse_methods_invalid(text, name):
    with pytest.raises(UserError) as error:
        parse_methods(text)
    assert str(error.value) == f"invalid method {name}; choose from ptq, wqat, sqat-uniform, sqat-threshold, wqat+sqat, wqat+sqat-learned"


def test_parse_methods_empty_entry():
    with pytest.raises(UserError) as error:
        parse_methods("ptq,,sqat-uniform")
    assert str(error.value) == "invalid methods 'ptq,,sqat-uniform'; give method names separated by single commas"


@pytest.mark.parametrize("text", ["ptq,ptq", "wqat, ptq,wqat"])
def test_parse_methods_repeated(text):
    with pytest.raises(UserError) as error:
        parse_methods(text)
    assert str(error.value) == f"invalid methods {text!r}; list each method once"


def test_grid_no_level_tables():
    with pytest.raises(UserError, match="target 'loihi1' has no level tables; sweep it with --state-bits float only"):
        Sweep(tiny_config(train=TrainConfig(target="loihi1", limit=60)), "unused", progress=False)


def test_grid_level_bits_limit():
    with pytest.raises(UserError, match="state bits 8 exceed the 6-bit level index of 'fpga-int4'"):
        Sweep(tiny_config(train=TrainConfig(target="fpga-int4", limit=60), state_bits=[8]), "unused", progress=False)


def test_grid_float_state_on_loihi1():
    sweep = Sweep(tiny_config(train=TrainConfig(target="loihi1", limit=60), state_bits=[F]), "unused", progress=False)
    assert len(sweep.cells()) == 12


def test_grid_unknown_method():
    with pytest.raises(UserError, match="invalid method 'qat'"):
        Sweep(tiny_config(methods=["ptq", "qat"]), "unused", progress=False)


# The tiny sweep -------------------------------------------------------------------


def test_sweep_rows(swept):
    _, rows = swept
    assert len(rows) == 24
    assert set(by_cell(rows)) == set(GRID)
    for row in rows:
        assert row["bit_exact"] is True, row
        assert row["spike_match_rate"] == 1.0, row
        assert row["state_match_rate"] == 1.0, row
        assert row["test_samples"] == 60, row
        assert 0.0 <= row["accuracy_integer"] <= 1.0, row


def test_sweep_same_as(swept):
    _, rows = swept
    for cell, (canonical, _) in GRID.items():
        expected = None if canonical == cell else Cell(*canonical).name
        assert by_cell(rows)[cell]["same_as"] == expected, cell


def test_sweep_aliases_copy_results(swept):
    _, rows = swept
    table = by_cell(rows)
    for cell, (canonical, _) in GRID.items():
        for column in ("accuracy_integer", "accuracy_fake_quant", "footprint_bytes", "model", "training_seconds"):
            assert table[cell][column] == table[canonical][column], (cell, column)


def test_sweep_models(swept):
    folder, rows = swept
    for cell, (_, key) in GRID.items():
        assert by_cell(rows)[cell]["model"] == key, cell
    assert {path.stem for path in (folder / "models").iterdir()} == MODEL_KEYS


def test_sweep_cell_files(swept):
    folder, _ = swept
    names = {path.name for path in (folder / "cells").iterdir()}
    assert names == {f"{name}.json" for name in CANONICAL_NAMES} | {f"{name}.npz" for name in CANONICAL_NAMES}
    assert not list(folder.rglob("*.tmp"))


def test_sweep_learned_parameters(swept):
    folder, _ = swept
    learned = load_checkpoint(folder / "models" / "wqat+sqat-learned_w4_s2.pt")
    fixed = load_checkpoint(folder / "models" / "wqat+sqat_w4_s2.pt")
    assert "neurons.0.level_log_scales" in learned.state_dict
    assert "neurons.1.level_offset" in learned.state_dict
    assert not any("level" in name for name in fixed.state_dict)
    assert learned.profile.weight_bits == 4
    assert load_checkpoint(folder / "models" / "float.pt").profile.weight_bits == 16


def test_sweep_csv(swept):
    folder, rows = swept
    with open(folder / "results.csv", newline="") as stream:
        reader = csv.DictReader(stream)
        records = list(reader)
    assert tuple(reader.fieldnames) == COLUMNS
    assert len(records) == 24
    for record, row in zip(records, rows):
        assert (record["method"], record["weight_bits"], record["state_bits"]) == (row["method"], str(row["weight_bits"]), str(row["state_bits"]))
        for column in ("accuracy_integer", "accuracy_fake_quant", "accuracy_float"):
            assert float(record[column]) == row[column], (record["method"], column)
        assert record["bit_exact"] == "True"
        assert record["same_as"] == (row["same_as"] or "")


def test_sweep_markdown(swept):
    folder, rows = swept
    table = by_cell(rows)
    lines = (folder / "results.md").read_text().splitlines()
    assert lines[0] == "| method | weight bits | state float | state 2 |"
    assert lines[1] == "|---|---|---|---|"
    expected = [
        f"| {method} | {weight} | {table[(method, weight, F)]['accuracy_integer']:.4f} | {table[(method, weight, 2)]['accuracy_integer']:.4f} |"
        for method in METHODS
        for weight in (F, 4)
    ]
    assert lines[2:14] == expected
    assert not lines[14]
    assert sum(line.startswith("| ") for line in lines) == 13


def test_sweep_plots(swept):
    folder, _ = swept
    for name in PLOTS:
        assert (folder / name).read_bytes()[:8] == PNG_SIGNATURE, name


def test_sweep_histograms(swept):
    folder, rows = swept
    table = by_cell(rows)
    for name in CANONICAL_NAMES:
        with np.load(folder / "cells" / f"{name}.npz") as traces:
            cell = next(cell for cell in GRID if Cell(*cell).name == name)
            samples = table[cell]["test_samples"]
            assert int(traces["hidden_mem_counts"].sum()) == samples * STEPS * HIDDEN, name
            assert int(traces["state_frac_bits"]) == STATE_FRAC_BITS
            levels = traces["hidden_levels"]
            if cell[2] == F:
                assert levels.size == 0, name
            else:
                assert levels.size == 4, name
                assert np.all(np.isin(traces["hidden_mem_values"], levels)), name
            assert np.array_equal(traces["torch_hidden_spikes"], traces["simulator_hidden_spikes"]), name


def test_sweep_deployed_levels(swept):
    """A level cell deploys the trained table where it learns one, and the threshold-centred table otherwise."""
    folder, _ = swept
    with np.load(folder / "cells" / "wqat+sqat-learned_w4_s2.npz") as traces:
        learned = traces["hidden_levels"]
    network = load_checkpoint(folder / "models" / "wqat+sqat-learned_w4_s2.pt").build_network()
    assert np.array_equal(learned, network.neurons[0].integer_levels.numpy())
    fixed = integer_levels(float_levels(2, "threshold-centered"), STATE_FRAC_BITS)
    for name in ("ptq_w4_s2", "wqat_w4_s2", "wqat+sqat_w4_s2", "sqat-threshold_wfloat_s2"):
        with np.load(folder / "cells" / f"{name}.npz") as traces:
            assert traces["hidden_levels"].tolist() == fixed, name
    with np.load(folder / "cells" / "sqat-uniform_w4_s2.npz") as traces:
        assert traces["hidden_levels"].tolist() == integer_levels(float_levels(2, "uniform"), STATE_FRAC_BITS)


def test_sweep_record(swept):
    folder, _ = swept
    record = json.loads((folder / "sweep.json").read_text())
    assert record["format"] == "squat-deploy-sweep"
    assert record["settings"] == json.loads(json.dumps(tiny_config().settings()))


# Resuming ------------------------------------------------------------------------


def test_resume_does_nothing(swept, copy, no_work):
    rows = Sweep(tiny_config(plots=False), copy, progress=False).run()
    assert rows == swept[1]


def test_resume_other_grid(swept, copy, no_work):
    """The grid may change between runs of a folder: a sub-grid comes from the stored cells."""
    config = tiny_config(weight_bits=[4], state_bits=[2], methods=["wqat+sqat", "wqat"], plots=False)
    rows = Sweep(config, copy, progress=False).run()
    table = by_cell(swept[1])
    assert rows == [table[("wqat+sqat", 4, 2)], table[("wqat", 4, 2)]]


def test_resume_one_cell(swept, copy, evaluated, monkeypatch):
    monkeypatch.setattr("squat_deploy.sweep.fit", lambda *args, **kwargs: pytest.fail("trained a model that exists"))
    (copy / "cells" / "sqat-threshold_wfloat_s2.json").unlink()
    rows = Sweep(tiny_config(plots=False), copy, progress=False).run()
    assert evaluated == ["sqat-threshold_wfloat_s2"]
    assert without_timing(rows) == without_timing(swept[1])
    assert (copy / "cells" / "sqat-threshold_wfloat_s2.json").exists()


def test_resume_unreadable_cell(swept, copy, evaluated, caplog):
    (copy / "cells" / "wqat_w4_s2.json").write_text("{ truncated")
    with caplog.at_level(logging.WARNING, logger="squat_deploy.sweep"):
        rows = Sweep(tiny_config(plots=False), copy, progress=False).run()
    assert evaluated == ["wqat_w4_s2"]
    assert "ignoring unreadable cell result" in caplog.text
    assert without_timing(rows) == without_timing(swept[1])


def test_interrupted_evaluation(swept, copy, monkeypatch):
    # In grid order, so the first is evaluated and the second interrupted.
    removed = ["sqat-uniform_w4_s2", "wqat+sqat_w4_s2"]
    for name in removed:
        (copy / "cells" / f"{name}.json").unlink()
        (copy / "cells" / f"{name}.npz").unlink()
    original = Sweep._evaluate
    calls: list[str] = []

    def interrupted_after_one(self, cell):
        calls.append(cell.name)
        if len(calls) > 1:
            raise KeyboardInterrupt
        return original(self, cell)

    monkeypatch.setattr(Sweep, "_evaluate", interrupted_after_one)
    with pytest.raises(KeyboardInterrupt):
        Sweep(tiny_config(plots=False), copy, progress=False).run()

    jsons = {path.stem for path in (copy / "cells").glob("*.json")}
    assert calls == removed
    assert jsons == CANONICAL_NAMES - {removed[1]}
    for name in jsons:
        assert json.loads((copy / "cells" / f"{name}.json").read_text())["bit_exact"] is True
        assert (copy / "cells" / f"{name}.npz").exists(), name
    assert not list(copy.rglob("*.tmp"))

    calls.clear()

    def counting(self, cell):
        calls.append(cell.name)
        return original(self, cell)

    monkeypatch.setattr(Sweep, "_evaluate", counting)
    rows = Sweep(tiny_config(plots=False), copy, progress=False).run()
    assert calls == [removed[1]]
    assert without_timing(rows) == without_timing(swept[1])
    assert {path.stem for path in (copy / "cells").glob("*.json")} == CANONICAL_NAMES


def test_interrupted_training(swept, copy, monkeypatch):
    """An interrupt while a model trains leaves no model file. The rerun trains it again."""
    (copy / "models" / "wqat+sqat_w4_s2.pt").unlink()
    (copy / "cells" / "wqat+sqat_w4_s2.json").unlink()

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("squat_deploy.sweep.fit", interrupt)
    with pytest.raises(KeyboardInterrupt):
        Sweep(tiny_config(plots=False), copy, progress=False).run()
    assert {path.stem for path in (copy / "models").iterdir()} == MODEL_KEYS - {"wqat+sqat_w4_s2"}
    assert not (copy / "cells" / "wqat+sqat_w4_s2.json").exists()
    assert not list(copy.rglob("*.tmp"))

    monkeypatch.undo()
    rows = Sweep(tiny_config(plots=False), copy, progress=False).run()
    assert {path.stem for path in (copy / "models").iterdir()} == MODEL_KEYS
    # Fine-tuning is seeded, so the model and its cell come out the same.
    assert without_timing(rows) == without_timing(swept[1])


@pytest.mark.parametrize(
    "config",
    [
        tiny_config(train=TrainConfig(limit=60, hidden_size=16, epochs=2)),
        tiny_config(finetune_epochs=2),
        tiny_config(finetune_learning_rate=1e-2),
        tiny_config(train=TrainConfig(limit=60, hidden_size=16, epochs=1, seed=1)),
    ],
    ids=["epochs", "finetune-epochs", "finetune-lr", "seed"],
)
def test_other_settings_rejected(copy, config):
    before = (copy / "sweep.json").read_text()
    with pytest.raises(UserError, match="contains a sweep with other settings"):
        Sweep(config, copy, progress=False).run()
    assert (copy / "sweep.json").read_text() == before


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json {", "sweep.json is unreadable; delete the folder or pass another --output"),
        ("", "sweep.json is unreadable"),
        ('{"format": "something-else", "settings": {}}', "contains a sweep with other settings"),
    ],
    ids=["garbage", "empty", "foreign"],
)
def test_sweep_record_rejected(copy, content, message):
    (copy / "sweep.json").write_text(content)
    with pytest.raises(UserError, match=message):
        Sweep(tiny_config(plots=False), copy, progress=False).run()
    assert (copy / "sweep.json").read_text() == content


# Command line ----------------------------------------------------------------------

TINY_OPTIONS = ["--limit", "60", "--hidden-size", "16", "--epochs", "1", "--finetune-epochs", "1", "--weight-bits", "float,4", "--state-bits", "float,2"]


def invoke(*args) -> Result:
    return CliRunner().invoke(main, ["sweep", *(str(arg) for arg in args)])


def assert_user_error(result: Result, fragment: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert fragment in lines[0]


def test_cli_resume_prints_table(copy, no_work):
    for name in PLOTS:
        (copy / name).unlink()
    result = invoke(*TINY_OPTIONS, "--no-plots", "-o", copy)
    assert result.exit_code == 0, result.output
    assert (copy / "results.md").read_text().rstrip() in result.stdout
    assert "| wqat+sqat-learned | 4 |" in result.stdout
    assert "24 cells in" in result.stdout
    assert not any((copy / name).exists() for name in PLOTS)


def test_cli_other_settings(copy):
    options = [*TINY_OPTIONS]
    options[options.index("--epochs") + 1] = "2"
    assert_user_error(invoke(*options, "--no-plots", "-o", copy), "contains a sweep with other settings")


def test_cli_restart(copy):
    """--restart clears the folder's models, cells, tables and plots, then runs the new grid."""
    result = invoke("--limit", "60", "--hidden-size", "16", "--epochs", "2", "--weight-bits", "4", "--state-bits", "2", "--methods", "ptq", "--no-plots", "--restart", "-o", copy)
    assert result.exit_code == 0, result.output
    assert {path.name for path in (copy / "cells").iterdir()} == {"ptq_w4_s2.json", "ptq_w4_s2.npz"}
    assert [path.name for path in (copy / "models").iterdir()] == ["float.pt"]
    assert not any((copy / name).exists() for name in PLOTS)
    with open(copy / "results.csv", newline="") as stream:
        records = list(csv.DictReader(stream))
    assert [(record["method"], record["weight_bits"], record["state_bits"]) for record in records] == [("ptq", "4", "2")]
    assert json.loads((copy / "sweep.json").read_text())["settings"]["train"]["epochs"] == 2
    assert "| ptq | 4 |" in result.stdout
    assert "1 cells in" in result.stdout


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        (["--target", "loihi1", "--state-bits", "float,4"], "target 'loihi1' has no level tables"),
        (["--target", "fpga-int4", "--state-bits", "8"], "state bits 8 exceed the 6-bit level index of 'fpga-int4'"),
    ],
    ids=["loihi1", "fpga-int4"],
)
def test_cli_restart_bad_grid(copy, options, fragment):
    """--restart checks the grid before it deletes anything, so an invalid grid leaves the folder as it was."""
    before = {path.relative_to(copy): path.read_bytes() for path in copy.rglob("*") if path.is_file()}
    assert Path("sweep.json") in before
    result = invoke(*options, "--no-plots", "--restart", "-o", copy)
    assert_user_error(result, fragment)
    after = {path.relative_to(copy): path.read_bytes() for path in copy.rglob("*") if path.is_file()}
    assert after == before


@pytest.mark.parametrize(
    ("option", "value", "fragment"),
    [
        ("--weight-bits", "float,x", "invalid weight bits 'x'"),
        ("--weight-bits", "32", "invalid weight bits 32; use 2 to 16 bits"),
        ("--weight-bits", "1", "invalid weight bits 1; use 2 to 16 bits"),
        ("--state-bits", "4,4", "invalid state bits '4,4'; list each width once"),
        ("--methods", "ptq,qat", "invalid method 'qat'"),
        ("--methods", "ptq,ptq", "invalid methods 'ptq,ptq'; list each method once"),
    ],
)
def test_cli_bad_grid(tmp_path, option, value, fragment):
    result = invoke(option, value, "-o", tmp_path / "out")
    assert_user_error(result, fragment)
    assert not (tmp_path / "out").exists()


def test_cli_no_level_tables(tmp_path):
    result = invoke("--target", "loihi1", "--state-bits", "float,4", "-o", tmp_path / "out")
    assert_user_error(result, "target 'loihi1' has no level tables; sweep it with --state-bits float only")
    assert not (tmp_path / "out").exists()


def test_cli_interrupt(copy, monkeypatch):
    (copy / "cells" / "wqat+sqat_w4_s2.json").unlink()

    def interrupt(self, cell):
        raise KeyboardInterrupt

    monkeypatch.setattr(Sweep, "_evaluate", interrupt)
    result = invoke(*TINY_OPTIONS, "--no-plots", "-o", copy)
    assert result.exit_code == 130, result.output
    assert f"interrupted with {len(CANONICAL_NAMES) - 1} cell result(s) saved in {copy}; run the same command again to resume" in result.stderr
