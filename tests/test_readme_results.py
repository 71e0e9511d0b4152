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


def _recall_record(scores, recalls):
    return {"recalls": [{"split": "official", "row": "+CBA+BRC", "seed": seed, "recall": list(recall),
                         "score": score} for seed, (score, recall) in enumerate(zip(scores, recalls))]
            + [{"split": "official", "row": "CNN", "seed": 0, "recall": [0.0, 0.0, 0.0, 0.0], "score": 10.0}]}


def test_learning_targets_need_five_seeds_every_class_recalled_and_a_small_spread():
    from respirelib.experiments.readme import learning_targets

    good = [50.0, 51.0, 52.0, 50.5, 51.5]
    recalls = [[40.0, 35.0, 31.0, 60.0]] * 5
    found = learning_targets(_recall_record(good, recalls))
    assert found["n_seeds"] == 5 and found["seeds_met"] and found["recall_met"] and found["std_met"]
    assert found["lowest_recall"] == 31.0  # the CNN row's zero recalls belong to another row
    assert not learning_targets(_recall_record(good[:4], recalls[:4]))["seeds_met"]
    assert not learning_targets(_recall_record(good, recalls[:4] + [[40.0, 29.9, 50.0, 50.0]]))["recall_met"]
    assert not learning_targets(_recall_record(good[:4] + [58.0], recalls))["std_met"]


def test_learning_targets_give_the_spread_its_interval_and_the_readme_prints_it():
    from respirelib.experiments.readme import learning_targets

    scores, recalls = [60.1, 63.2, 64.6, 63.7, 65.4], [[40.0, 35.0, 31.0, 60.0]] * 5
    found = learning_targets(_recall_record(scores, recalls))
    low, high = found["score_std_ci"]
    assert low < found["score_std"] < high and high > 2 * found["score_std"]  # five seeds: wide, and skewed up
    assert learning_targets(_recall_record(scores[:1], recalls[:1]))["score_std_ci"] is None  # one seed: no spread
    import respirelib.experiments.readme as readme_module
    from respirelib.apps.bench_quick import demo_learning_targets

    with pytest.MonkeyPatch.context() as patch:  # bench demo's record carries the same interval
        patch.setattr(readme_module, "readme_record", lambda run_dir, command: _recall_record(scores, recalls))
        spread = demo_learning_targets("a-run")[-1]
    assert spread["interval"] == pytest.approx([low, high], abs=1e-3) and spread["measured"] == found["score_std"]
    record = json.loads(RECORD.read_text())
    recorded = learning_targets(record)
    assert (f"over seeds {recorded['score_std']} points [95 % interval {recorded['score_std_ci'][0]:.2f} to "
            f"{recorded['score_std_ci'][1]:.2f}]") in README.read_text()


@pytest.mark.slow
def test_bench_demo_names_each_notebooks_share_of_the_time(smoke_pipeline):
    from respirelib.apps.bench_quick import notebook_seconds

    seconds = notebook_seconds(smoke_pipeline)
    assert sorted(seconds) == sorted(path.stem for path in (smoke_pipeline / "notebooks").glob("*.ipynb"))
    assert len(seconds) == 7 and all(value > 0 for value in seconds.values())


def test_bench_demo_checks_the_learning_targets_of_the_run(smoke_pipeline):
    from respirelib.apps.bench_quick import demo_learning_targets
    from respirelib.training.metrics import MIN_DEMO_SEEDS

    targets = {t["name"].split(": ")[1]: t for t in demo_learning_targets(smoke_pipeline)}
    assert set(targets) == {"seeds trained", "lowest class recall of any seed", "std of the 4-class score over seeds"}
    assert targets["seeds trained"]["measured"] == 1 and targets["seeds trained"]["target"] == MIN_DEMO_SEEDS
    assert not targets["seeds trained"]["met"]  # the smoke pipeline trains one seed: no spread, too few seeds
    assert not targets["std of the 4-class score over seeds"]["met"]
    assert "interval" not in targets["std of the 4-class score over seeds"]  # one seed: no spread to bound


def test_the_readme_tuning_tables_are_the_tools_output(capsys):
    """Fails when the README's tuning tables differ from what tools/readme_tuning.py prints from the records."""
    import runpy

    from respirelib.apps.cmd_report import README

    runpy.run_path(str(README.parent / "tools" / "readme_tuning.py"), run_name="__main__")
    printed = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    readme = README.read_text().splitlines()
    missing = [line for line in printed if line not in readme]
    assert len(printed) > 20 and not missing, (
        f"README.md lacks {len(missing)} line(s) tools/readme_tuning.py prints, e.g. {missing[:1]}: paste its output")


def _speed_record_quoted_in_readme(name: str) -> tuple[dict, str]:
    """``results/NAME`` (a ``bench precision`` record) and the README, asserting the README quotes its table verbatim."""
    from respirelib.apps.bench_precision import format_precision
    from respirelib.apps.cmd_report import README

    record = json.loads((README.parent / "results" / name).read_text())
    readme = README.read_text()
    assert f"```\n{format_precision(record)}\n```" in readme, f"paste format_precision's table of {name} into README.md"
    return record, readme


@pytest.mark.parametrize("name", ["bench_precision_cpu_2core_epyc_f25m17.json",
                                  "bench_precision_cpu_1thread_epyc_f25m17.json",
                                  "bench_precision_cpu_2core_epyc_f25m17_fitstep.json",
                                  "bench_precision_cpu_1thread_epyc_f25m17_fitstep.json"])
def test_the_readme_speed_tables_of_other_cpus_are_their_records_own_output(name):
    """Fails when a README speed table of another CPU differs from what its record prints, or the quoted ratio does."""
    record, readme = _speed_record_quoted_in_readme(name)
    assert f"`results/{name}`" in readme
    quick = record["networks"]["quick"]["speedup_train"]
    assert f"{quick:.2f}×" in readme


def test_the_readme_amx_speed_table_is_the_records_own_output():
    """Fails when the README's bf16-on-AMX table differs from what its record prints (format_precision)."""
    record, readme = _speed_record_quoted_in_readme("bench_precision_cpu_2core_amx.json")
    assert record["amx"] is True
    speedups = {target["name"].split(":")[0]: target for target in record["targets"]}
    assert f"**{speedups['quick']['measured']:.2f}×**" in readme
    assert f"**{speedups['paper']['measured']:.2f}×**" in readme
