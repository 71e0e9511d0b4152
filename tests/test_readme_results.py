"""The README's results come from a recorded run by a tool: they agree with the record, and the tool makes both."""

from __future__ import annotations

import json

import pytest

from respirelib.apps.cli import main
from respirelib.apps.cmd_report import README, RECORD
from respirelib.experiments.readme import BEGIN, END, render_results, results_block


def test_the_readme_results_are_the_recorded_runs():
    """Fails when README.md's results block and results/readme_run.json disagree (edit neither by hand)."""
    record = json.loads(RECORD.read_text())
    assert results_block(README.read_text()) == render_results(record), (
        "README.md's results differ from results/readme_run.json: regenerate them with `respirenet report readme`")
    for fact in ("commit", "command", "run", "precision", "threads", "seeds", "hardware", "data"):
        assert record[fact], fact
    assert record["data"]["synthetic"] is False or "SYNTHETIC data" in results_block(README.read_text())


@pytest.mark.slow
def test_report_readme_regenerates_and_checks_from_a_pipeline_run(smoke_pipeline, tmp_path, capsys):
    readme, record_path = tmp_path / "README.md", tmp_path / "readme_run.json"
    readme.write_text(f"# Title\n\n## Results\n\n{BEGIN}\nold numbers\n{END}\n\n## Tests\n")
    assert main(["report", "readme", str(smoke_pipeline), "--command", "respirenet pipeline --profile smoke",
                 "--record", str(record_path), "--readme", str(readme)]) == 0
    record = json.loads(record_path.read_text())
    gathered = json.loads((smoke_pipeline / "07_results.json").read_text())
    environment = json.loads((smoke_pipeline / "environment.json").read_text())
    run = json.loads(next((smoke_pipeline / "train").glob("official-full-seed0/run.json")).read_text())
    assert record["commit"] == environment["commit"] and record["profile"] == "smoke" and record["seeds"] == [0]
    assert record["precision"] == [run["precision"]["used"]]
    assert record["threads"] == [run["provenance"]["hardware"]["torch_threads"]]
    assert record["hardware"]["cpu_count"] == environment["hardware"]["cpu_count"]
    assert record["table_one_4class"] == gathered["table_one_4class"]
    text = readme.read_text()
    assert text.startswith("# Title\n\n## Results\n\n") and text.endswith(f"{END}\n\n## Tests\n")
    assert "old numbers" not in text and "SYNTHETIC data" in text and "profile smoke" in text
    block = results_block(text)
    for row in gathered["table_one_4class"]:
        assert f"| {row['split']} | {row['row']} | 4-class | {row['sp ours']} | {row['se ours']} |" in block
    seed_row = next(r for r in record["recalls"] if r["row"] == "+CBA+BRC")
    assert f"| official | +CBA+BRC | 0 | {' | '.join('–' if v is None else str(v) for v in seed_row['recall'])} |" \
        in block
    capsys.readouterr()
    check = ["report", "readme", "--check", "--record", str(record_path), "--readme", str(readme)]
    assert main(check) == 0
    readme.write_text(text.replace(gathered["table_one_4class"][0]["score ours"], "99.9 ± 0.0 [99.0, 100.0]", 1))
    assert main(check) == 1 and "differ from" in capsys.readouterr().err
    assert main(["report", "readme", "--record", str(record_path), "--readme", str(readme)]) == 0  # redrawn
    assert readme.read_text() == text
