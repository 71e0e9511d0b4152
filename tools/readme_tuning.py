"""The README's fourth round of quick-profile tuning (sound model 3) and its thread check, printed from records.

Usage: ``.venv/bin/python tools/readme_tuning.py`` reads ``results/quick_profile_tuning_sound3.json``
(the ``respirenet bench quick`` records of the round, one per command, as written with ``--out``) and
prints the Markdown table of every candidate: its overrides, the synthetic set it trained on, the
4-class test score mean ± std over seeds with each seed's value, the lowest class recall of any seed,
and the mean stage-1 fit time. With ``results/quick_profile_1thread.json`` (the chosen profile trained
with one torch thread, ``OMP_NUM_THREADS=1 respirenet bench quick``) it also prints that check beside the
same seeds' two-thread runs (the round's ``e24``), and the same profile on a second machine where the round
holds one (a record of ``e24`` with another CPU), each paired by seed with the first. With
``results/quick_profile_tuning_round6.json`` it prints the sixth round: the quick profile at two threads
(candidate ``quick``), its candidates and the same profile at one thread, paired by seed with the first;
with ``results/quick_profile_tuning_round7.json`` the seventh (sound model 4), and with
``results/quick_profile_tuning_round8.json`` the eighth (on a bf16 CPU, its reference named ``ema99-mr``),
in the same form. ``results/quick_profile_tuning_round9.json``, the ninth, trained on a separate synthetic draw
at one thread: its table, each candidate against the rule written before it ran, and the profile's spread pooled
over the two draws with the chance that five seeds meet the demo's spread target. With
``results/seed_spread_anatomy_round9.json`` (``tools/spread_anatomy.py``), where the ninth round's spreads come from;
with ``results/validation_thresholds_round10.json`` (``tools/validation_thresholds.py``), the tenth round: the
ninth round's profile runs with decision thresholds chosen on validation.
"""

import json
from pathlib import Path

import numpy as np

from respirelib.training.metrics import format_signed

ROOT = Path(__file__).resolve().parent.parent
RECORDS = ROOT / "results" / "quick_profile_tuning_sound3.json"
ONE_THREAD = ROOT / "results" / "quick_profile_1thread.json"
ROUND_SIX = ROOT / "results" / "quick_profile_tuning_round6.json"
ROUND_SEVEN = ROOT / "results" / "quick_profile_tuning_round7.json"
ROUND_EIGHT = ROOT / "results" / "quick_profile_tuning_round8.json"
ROUND_NINE = ROOT / "results" / "quick_profile_tuning_round9.json"  # on a separate synthetic draw, at 1 thread
ANATOMY_NINE = ROOT / "results" / "seed_spread_anatomy_round9.json"  # the ninth round's test predictions
THRESHOLDS_TEN = ROOT / "results" / "validation_thresholds_round10.json"  # the tenth round: thresholds on validation
MORE_SEEDS = ROOT / "results" / "quick_profile_more_seeds.json"  # the chosen profile's seeds 5-9 (round eight)
# The eighth round's demo: the clean timing the projections use.
DEMO_RECORD = ROOT / "results" / "bench_demo_cpu_2core_bf16_round8.json"
# The ninth round's second part, judged with a noise margin on the spread and a time limit (its record's note).
NINTH_ROUND_MARGIN = {"w24", "e36"}
# Each later round's reference row: the quick profile as it stood, under its record's name, and its torch threads.
# (The ninth round is printed after the eighth round's sentences, where the README tells it.)
LATER_ROUNDS = {ROUND_SIX: ("quick", 2), ROUND_SEVEN: ("quick", 2), ROUND_EIGHT: ("ema99-mr", 2)}
CHOSEN = "e24"
# The fifth round's candidates, under the names their records give them (see zoom_check).
ZOOM_GROUPS = {"**the mean blank level, standard scaling, grey images (the quick profile now)**": {"stdrep", "stdzoom"},
               "the mean blank level, the min-max colormap images": {"mmzoom"}}


def main(records: list[dict]) -> None:
    print("| candidate | overrides of the quick profile | synthetic set | CPU | seeds | 4-class score (per seed) "
          "| lowest class recall of any seed (%) | stage-1 fit per seed (s, mean) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for record in records:
        data = record["data"]
        where = (f"difficulty {data['difficulty']}, scale {data['scale']}, sound model {data['sound_version']}"
                 if data.get("difficulty") is not None else f"scale {data['scale']}, `{Path(data['path']).name}`")
        for candidate in record["candidates"]:
            summary = candidate["summary"]
            per_seed = ", ".join(f"{100 * run['score']:.1f}" for run in candidate["runs"])
            overrides = (json.dumps(candidate["overrides"]) if candidate["overrides"]
                         else "none (the quick profile of the record's commit)")
            print(f"| {candidate['name']} | `{overrides}` | {where} | {_cpu(record)} | "
                  f"{', '.join(map(str, record['seeds']))} | "
                  f"{summary['score']['mean']:.1f} ± {summary['score']['std']:.1f} ({per_seed}) | "
                  f"{summary['min_class_recall']:.0f} | {summary['fit_s_mean']:.0f} |")
    machines = "CPUs as they name themselves: " + ", ".join(sorted({r["hardware"]["cpu_model"] for r in records}))
    threads = sorted({r["torch_threads"] for r in records})
    precisions = " or ".join(sorted(_precisions(records)))
    print(f"\n(`respirenet bench quick`, commits {', '.join(sorted({r['commit'][:7] for r in records}))}; "
          f"{machines}; {', '.join(map(str, threads))} torch threads, precision auto ({precisions}, as the CPU column "
          f"says), random init, load averages "
          f"{min(r['load_average'][0] for r in records):.1f}-{max(r['load_average'][0] for r in records):.1f})")


def _precisions(records: list[dict]) -> set[str]:
    return {run["precision"] for record in records for candidate in record["candidates"] for run in candidate["runs"]}


def _cpu(record: dict) -> str:
    """A short name of the record's CPU and the precision its runs trained in.

    Records made before they stored the CPU's bf16 flags are named from the CPU model and from what the
    precision ``auto`` resolved to there: an AMD EPYC that ran bf16 has AVX-512 BF16 (AMD has no AMX), and
    the only Intel Xeon before those flags had AMX; later Intel records say whether the CPU has native bf16.
    """
    model = record["hardware"].get("cpu_model") or "unknown CPU"
    cores = record["hardware"].get("cpu_count")
    precision = " and ".join(sorted(_precisions([record])))
    if "AMD" in model:
        return f"{cores}-core AMD EPYC, " + ("bf16 (AVX-512 BF16)" if precision == "bf16" else
                                               f"{precision} (no native bf16)")
    if "Intel" in model:
        native = record["hardware"].get("cpu_native_bf16", {}).get("native")
        if native is False:
            return f"{cores}-core Intel Xeon with AVX-512 (no native bf16), {precision}"
        return f"{cores}-core Intel Xeon (AMX), {precision}"
    return f"{cores}-core {model}, {precision}"


def _paired(reference: list[float], scores: list[float]) -> str:
    """A row's paired difference from the reference row, by seed: mean, 95 % t interval and verdict."""
    from respirelib.apps.bench_precision import paired_comparison

    comparison = paired_comparison(reference, scores)
    low, high = (format_signed(bound) for bound in comparison["ci"])
    return (f"{format_signed(comparison['mean'])} ({low} to {high}): "
            f"{comparison['verdict'].replace('the second', 'this row')}")


def setup_check(records: list[dict]) -> None:
    """The chosen profile on the round's machine at two threads, at one thread, and on a second machine, by seed.

    Every row trains the same seeds on the same synthetic set and is scored on the same test cycles, so each
    is compared with the first row paired by seed.
    """
    one_record = json.loads(ONE_THREAD.read_text())
    chosen = [(r, c) for r in records for c in r["candidates"]
              if c["name"] == CHOSEN and r["data"]["fingerprint"] == one_record["data"]["fingerprint"]
              and r["seeds"] == one_record["seeds"]]
    reference_record, reference = next((r, c) for r, c in chosen if _cpu(r) == _cpu(one_record))
    rows = [(reference_record, reference), (one_record, one_record["candidates"][0])]
    rows += [(r, c) for r, c in chosen if _cpu(r) != _cpu(one_record)]
    seeds = [run["seed"] for run in reference["runs"]]
    print(f"\n| CPU | torch threads | 4-class score (per seed {', '.join(map(str, seeds))}) | std | "
          "lowest class recall of any seed (%) | stage-1 fit per seed (s, mean) | minus the first row, paired by seed |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    reference_scores = [100 * run["score"] for run in reference["runs"]]
    for record, candidate in rows:
        assert [run["seed"] for run in candidate["runs"]] == seeds, "every setup must train the same seeds"
        summary = candidate["summary"]
        scores = [100 * run["score"] for run in candidate["runs"]]
        per_seed = ", ".join(f"{score:.1f}" for score in scores)
        if candidate is reference:
            paired = "—"
        else:
            paired = _paired(reference_scores, scores)
        print(f"| {_cpu(record)} | {record['torch_threads']} | {summary['score']['mean']:.1f} ({per_seed}) | "
              f"{summary['score']['std']:.1f} | {summary['min_class_recall']:.0f} | {summary['fit_s_mean']:.0f} | "
              f"{paired} |")
    print(f"\n(Paired differences: mean and 95 % t interval over the {len(seeds)} seeds. One-thread record: commit "
          f"`{one_record['commit'][:7]}`, load average {one_record['load_average'][0]:.1f}; the other machines': "
          + ", ".join(f"commit `{r['commit'][:7]}`, load average {r['load_average'][0]:.1f}"
                      for r, _ in rows[2:]) + ".)")


def _runs_by_seed(records: list[dict], names: set[str], cpu: str) -> dict[int, tuple[dict, dict]]:
    """``{seed: (record, run)}`` of the candidates named ``names`` on the CPU named ``cpu``, over every record."""
    found = {}
    for record in records:
        if _cpu(record) != cpu:
            continue
        for candidate in record["candidates"]:
            if candidate["name"] in names:
                for run in candidate["runs"]:
                    assert run["seed"] not in found, f"seed {run['seed']} of {sorted(names)} is recorded twice"
                    found[run["seed"]] = (record, run)
    return found


def zoom_check(records: list[dict]) -> None:
    """The fifth round: the quick profile of round four (e24) against the blank level "mean", with the
    colormap images and with standard scaling and grey images, on the CPU that measured them, paired by seed."""
    cpus = {_cpu(r) for r in records for c in r["candidates"] if c["name"] in set().union(*ZOOM_GROUPS.values())}
    assert len(cpus) == 1, f"the fifth round was measured on {sorted(cpus)}: one CPU expected"
    cpu = cpus.pop()
    base = _runs_by_seed(records, {CHOSEN}, cpu)
    print("\n| setting | seeds | 4-class score, mean ± std | per seed | lowest class recall of any seed (%) | "
          "mean recall normal / crackle / wheeze / both (%) | minus e24, paired by seed |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for label, names in {"e24 (round four's quick profile: the paper's blank level)": {CHOSEN}, **ZOOM_GROUPS}.items():
        runs = _runs_by_seed(records, names, cpu)
        seeds = sorted(runs)
        values = np.array([100 * runs[seed][1]["score"] for seed in seeds])
        recalls = np.array([runs[seed][1]["class_recall"] for seed in seeds], dtype=float)
        if names == {CHOSEN}:
            paired = "—"
        else:
            shared = [seed for seed in seeds if seed in base]
            paired = _paired([100 * base[seed][1]["score"] for seed in shared],
                             [100 * runs[seed][1]["score"] for seed in shared])
        print(f"| {label} | {seeds[0]}–{seeds[-1]} | {values.mean():.1f} ± {values.std(ddof=1):.1f} | "
              f"{', '.join(f'{v:.1f}' for v in values)} | {100 * recalls.min():.0f} | "
              f"{' / '.join(f'{100 * m:.0f}' for m in recalls.mean(axis=0))} | {paired} |")
    commits = sorted({r["commit"][:7] + ("-dirty" if r["commit"].endswith("-dirty") else "") for r in records
                      if _cpu(r) == cpu})
    print(f"\n(All on the {cpu}, 2 torch threads, the same synthetic set and test cycles; `respirenet bench quick`, "
          f"commits {', '.join(commits)}. Paired differences: mean and 95 % t interval over the shared seeds.)")


def _best_validation(runs: list[dict]) -> float:
    """The best validation ICBHI score of each run (whatever selection kept), averaged over the runs."""
    return float(np.mean([max(score for score in run["val_scores"] if score is not None) for run in runs]))


def later_round(records: list[dict], *, base_name: str, base_threads: int = 2) -> None:
    """A later round (six to nine): the quick profile as it stood (``base_name`` at ``base_threads`` torch threads)
    against candidates, each paired by seed with it."""
    rows = [(record, candidate) for record in records for candidate in record["candidates"]]
    base = next(c for r, c in rows if c["name"] == base_name and r["torch_threads"] == base_threads)
    base_scores = {run["seed"]: 100 * run["score"] for run in base["runs"]}
    print("\n| setting | overrides of the quick profile | torch threads | 4-class score, mean ± std (per seed) | "
          "lowest class recall of any seed (%) | mean recall normal / crackle / wheeze / both (%) | "
          "stage-1 fit per seed (s, mean) | best validation score, mean over seeds | "
          f"minus {base_name} at {_threads(base_threads)}, paired by seed |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for record, candidate in rows:
        runs = candidate["runs"]
        assert sorted(base_scores) == [run["seed"] for run in runs], "every row must train the base's seeds"
        scores = [100 * run["score"] for run in runs]
        recalls = np.array([run["class_recall"] for run in runs], dtype=float)
        if candidate is base:
            paired = "—"
        else:
            paired = _paired([base_scores[run["seed"]] for run in runs], scores)
        overrides = f"`{json.dumps(candidate['overrides'])}`" if candidate["overrides"] else "none"
        print(f"| {candidate['name']} | {overrides} | {record['torch_threads']} | "
              f"{np.mean(scores):.1f} ± {np.std(scores, ddof=1):.1f} ({', '.join(f'{v:.1f}' for v in scores)}) | "
              f"{100 * recalls.min():.0f} | {' / '.join(f'{100 * m:.0f}' for m in recalls.mean(axis=0))} | "
              f"{candidate['summary']['fit_s_mean']:.0f} | {_best_validation(runs):.3f} | {paired} |")
    commits = sorted({r["commit"][:7] + ("-dirty" if r["commit"].endswith("-dirty") else "") for r in records})
    print(f"\n(All on the {_cpu(records[0])}, seeds {', '.join(map(str, sorted(base_scores)))}, {_draw(records)}; "
          f"`respirenet bench quick`, commits {', '.join(commits)}; load averages "
          f"{min(r['load_average'][0] for r in records):.1f}-{max(r['load_average'][0] for r in records):.1f}. "
          "Paired differences: mean and 95 % t interval over the seeds.)")


def _candidate(records: list[dict], name: str, threads: int) -> dict:
    return next(c for r in records for c in r["candidates"] if c["name"] == name and r["torch_threads"] == threads)


def _scores_by_seed(runs: list[dict]) -> dict[int, float]:
    return {run["seed"]: 100 * run["score"] for run in runs}


def ninth_round_rule(records: list[dict], *, base_name: str) -> None:
    """Each candidate of the ninth round against the rule written before it ran (the record's note).

    The first part's candidates were judged by (1) a lower std than the base's, (2) the lower end of the paired
    95 % interval above -1 point and (3) every seed recalling every class at 30 % or more; the second part's
    (:data:`NINTH_ROUND_MARGIN`) by the same with a noise margin on (1): the paired bootstrap interval over
    seeds of the std difference wholly below 0, and (4) a ``make demo`` projected within ten minutes on the
    machine of the README's demo record (its notebook 04 scaled by the fit-time ratio).
    """
    from respirelib.apps.bench_precision import paired_comparison

    demo = json.loads(DEMO_RECORD.read_text())
    base_candidate = _candidate(records, base_name, 1)
    base = _scores_by_seed(base_candidate["runs"])
    seeds = sorted(base)
    for record in records:
        for candidate in record["candidates"]:
            if candidate["name"] == base_name:
                continue
            mine = _scores_by_seed(candidate["runs"])
            assert sorted(mine) == seeds, "every row must train the base's seeds"
            ours, theirs = np.array([mine[s] for s in seeds]), np.array([base[s] for s in seeds])
            our_std, their_std = ours.std(ddof=1), theirs.std(ddof=1)
            lower_end = paired_comparison(list(theirs), list(ours))["ci"][0]
            lowest = min(min(v for v in run["class_recall"] if v is not None) for run in candidate["runs"])
            spread = _spread_difference(ours, theirs)
            ratio = candidate["summary"]["fit_s_mean"] / base_candidate["summary"]["fit_s_mean"]
            projected = demo["seconds"] + demo["notebook_seconds"]["04_training"] * (ratio - 1)
            margin = candidate["name"] in NINTH_ROUND_MARGIN
            checks = [spread.high < 0 if margin else our_std < their_std, lower_end > -1.0,
                      lowest >= 0.30] + ([projected <= 600] if margin else [])
            same = sum(abs(mine[s] - base[s]) < 1e-9 for s in seeds)
            print(f"\n{candidate['name']}: std {our_std:.2f} against {base_name}'s {their_std:.2f}, "
                  f"difference {our_std - their_std:+.2f} ({spread.low:+.2f} to {spread.high:+.2f}, "
                  f"paired bootstrap over the {len(seeds)} seeds): "
                  + ("within the noise" if spread.low <= 0 <= spread.high else "beyond the noise")
                  + f"; lower end of the paired score interval {lower_end:+.1f}; lowest recall {100 * lowest:.1f} %; "
                  f"fit time {ratio:.2f} × {base_name}'s (a `make demo` of about {projected:.0f} s projected from "
                  f"`results/{DEMO_RECORD.name}`); the same score as {base_name} on {same} of {len(seeds)} seeds. "
                  + ("Judged with the noise margin: " if margin else "Judged by the first rule: ")
                  + ("meets it" if all(checks) else "fails it") + ".")


def _spread_difference(ours: np.ndarray, theirs: np.ndarray):
    """The paired bootstrap 95 % interval over seeds of ``std(ours) - std(theirs)`` (``.low``, ``.high``)."""
    from scipy import stats

    return stats.bootstrap((ours, theirs), lambda a, b: np.std(a, ddof=1) - np.std(b, ddof=1), paired=True,
                           vectorized=False, n_resamples=10_000, method="percentile",
                           random_state=0).confidence_interval


def _steady_spread() -> float:
    """The seed-to-seed std at which the demo's seeds keep their sample std within the target 19 times in 20
    (chi-square with one degree of freedom fewer than the seeds)."""
    from scipy import stats

    from respirelib.training.metrics import MAX_SCORE_STD_POINTS, MIN_DEMO_SEEDS

    return float(MAX_SCORE_STD_POINTS * np.sqrt((MIN_DEMO_SEEDS - 1) / stats.chi2.ppf(0.95, MIN_DEMO_SEEDS - 1)))


def seed_spread_chance(demo_records: list[dict], demo_row: tuple[str, int], dev_records: list[dict],
                       dev_row: tuple[str, int]) -> None:
    """The profile's seed-to-seed spread pooled over the demo's draw and the development draw, and the chance
    that five seeds meet the spread target under it (and at the ends of its interval)."""
    from respirelib.training.metrics import MAX_SCORE_STD_POINTS, MIN_DEMO_SEEDS, chance_spread_within, pooled_seed_spread

    demo = _scores_by_seed([run for r in demo_records if r["torch_threads"] == demo_row[1]
                            for c in r["candidates"] if c["name"] == demo_row[0] for run in c["runs"]])
    dev = _scores_by_seed(_candidate(dev_records, *dev_row)["runs"])
    pooled = pooled_seed_spread([list(demo.values()), list(dev.values())])
    low, high = pooled["ci"]
    steady = _steady_spread()
    chance = {name: chance_spread_within(value, n_seeds=MIN_DEMO_SEEDS, limit=MAX_SCORE_STD_POINTS)
              for name, value in (("point", pooled["std"]), ("low", high), ("high", low))}
    print(f"\nThe profile at 1 thread, pooled over the demo's draw ({len(demo)} seeds, ± "
          f"{np.std(list(demo.values()), ddof=1):.2f}) and the development draw ({len(dev)} seeds, ± "
          f"{np.std(list(dev.values()), ddof=1):.2f}): seed-to-seed std {pooled['std']:.2f} points "
          f"({low:.2f} to {high:.2f}, {100 * pooled['level']:.0f} % chi-square interval, {pooled['dof']} degrees of "
          f"freedom). With seeds that spread so, {MIN_DEMO_SEEDS} seeds have a std of {MAX_SCORE_STD_POINTS:g} points "
          f"or less with probability {chance['point']:.2f} ({chance['low']:.2f} to {chance['high']:.2f} over the "
          f"interval). To meet it 19 times in 20, seeds would have to spread {steady:.2f} points or less.")


def _threads(count: int) -> str:
    return f"{count} thread" + ("" if count == 1 else "s")


def _draw(records: list[dict]) -> str:
    """Which synthetic draw every record trained on: the demo's (seed 0) or a development draw."""
    seeds = {record["data"].get("seed") for record in records}
    assert len(seeds) == 1, f"a round trains on one synthetic draw, these records name {sorted(seeds)}"
    seed = seeds.pop()
    return ("the same synthetic set and test cycles" if seed == 0
            else f"the development draw (synthetic seed {seed}, not the demo's) and its test cycles")


def paired_sentence(records: list[dict], row: tuple[str, int], reference: tuple[str, int]) -> None:
    """One row minus another, each given as (name, torch threads), paired by seed: the README's sentence."""
    mine, theirs = (_scores_by_seed(_candidate(records, *which)["runs"]) for which in (row, reference))
    seeds = sorted(mine)
    assert seeds == sorted(theirs), "both rows must train the same seeds"
    differences = ", ".join(format_signed(mine[s] - theirs[s]) for s in seeds)
    print(f"\n{row[0]} at {row[1]} thread(s) minus {reference[0]} at {reference[1]} thread(s), paired by seed "
          f"({differences}): {_paired([theirs[s] for s in seeds], [mine[s] for s in seeds])}")


def more_seeds(records: list[dict], extra: list[dict], *, name: str, threads: int) -> None:
    """One candidate's runs over every seed the records hold: its spread and lowest recall on more seeds."""
    runs = sorted((run for r in records + extra if r["torch_threads"] == threads
                   for c in r["candidates"] if c["name"] == name for run in c["runs"]), key=lambda run: run["seed"])
    seeds = [run["seed"] for run in runs]
    assert len(set(seeds)) == len(seeds), f"{name}: a seed measured twice"
    scores = np.array([100 * run["score"] for run in runs])
    lowest = min(100 * min(v for v in run["class_recall"] if v is not None) for run in runs)
    below = [run["seed"] for run in runs if min(v for v in run["class_recall"] if v is not None) < 0.30]
    first, second = scores[:5], scores[5:]
    print(f"\n{name} at {threads} thread(s), seeds {seeds[0]}-{seeds[-1]} ({len(runs)} runs): 4-class score "
          f"{scores.mean():.1f} ± {scores.std(ddof=1):.2f} (seeds {seeds[0]}-{seeds[4]}: ± {first.std(ddof=1):.2f}; "
          f"seeds {seeds[5]}-{seeds[-1]}: ± {second.std(ddof=1):.2f}); lowest class recall of any seed {lowest:.1f} %"
          + (f"; seeds under 30 %: {', '.join(map(str, below))}" if below else "; every seed 30 % or more"))


def _classes(digits: str) -> np.ndarray:
    """Classes kept in a record as one digit a cycle (labels or decisions), as an int array."""
    return np.array([int(c) for c in digits], dtype=np.int64)


def spread_anatomy(record: dict, *, base_name: str) -> None:
    """Where each row's spread over seeds comes from (:func:`respirelib.training.metrics.seed_spread_anatomy`),
    computed from the test predictions the record keeps, and a sentence on the profile's."""
    from respirelib.training.metrics import seed_spread_anatomy

    labels = _classes(record["labels"])
    anatomies = {name: seed_spread_anatomy(labels, np.array([_classes(p) for p in candidate["preds"]]),
                                           record["patients"])
                 for name, candidate in record["candidates"].items()}

    def ranged(value: float, interval: list[float], *, percent: bool = False) -> str:
        scale, digits, unit = (100, 0, " %") if percent else (1, 2, "")
        low, high = (f"{scale * bound:.{digits}f}" for bound in interval)
        return f"{scale * value:.{digits}f}{unit} ({low} to {high})"

    def correlation_of(anatomy: dict) -> str:
        return "–" if anatomy["sp_se_correlation"] is None else f"{anatomy['sp_se_correlation']:+.2f}"

    print("\n| row | seeds | 4-class score (%), mean ± std | std of Sp (points) | std of Se (points) | "
          "Sp–Se correlation over seeds | share of the score's variance shared across test patients | "
          "std projected with 2× / 4× the test patients (points) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, a in anatomies.items():
        ci = a["ci"]
        print(f"| {name} | {a['n_seeds']} | {np.mean(a['score']):.1f} ± {a['std']['score']:.2f} | "
              f"{a['std']['sp']:.2f} | {a['std']['se']:.2f} | {correlation_of(a)} | "
              f"{ranged(a['between_share'], ci['between_share'], percent=True)} | "
              f"{ranged(a['std_with_patients'][2], ci['std_with_patients'][2])} / "
              f"{ranged(a['std_with_patients'][4], ci['std_with_patients'][4])} |")
    base = anatomies[base_name]
    correlation = base["sp_se_correlation"] or 0.0
    relation = ("nearly independently: seeds differ above all in how many normal cycles they call abnormal, and buy "
                "no sensitivity with it" if abs(correlation) < 0.3 else
                "one trading against the other" if correlation < 0 else "rising and falling together")
    projected, (low, high) = base["std_with_patients"][4], base["ci"]["std_with_patients"][4]
    limit = _steady_spread()
    steady = f"the {limit:.2f} points that would meet the target 19 times in 20"
    if high <= limit:
        verdict = f"below {steady}"
    elif low < limit:
        verdict = f"an interval too wide to say whether it would reach {steady}"
    else:
        verdict = f"above {steady}"
    print(f"\n({base['n_cycles']} test cycles of {base['n_patients']} patients, the same in every row; intervals: "
          f"{100 * base['ci']['level']:.0f} % bootstrap over the seeds, {base['ci']['n_resamples']} resamples; "
          f"`results/{ANATOMY_NINE.name}`, written by `tools/spread_anatomy.py` from the round's runs.) For "
          f"{base_name}, Sp spreads {base['std']['sp']:.2f} points over the seeds and Se {base['std']['se']:.2f}, "
          f"{relation} (correlation {correlation_of(base)}). {100 * base['between_share']:.0f} % of the Score's "
          f"variance over seeds (95 % interval {100 * base['ci']['between_share'][0]:.0f} to "
          f"{100 * base['ci']['between_share'][1]:.0f} %) is shared across the test patients: a seed is better or "
          f"worse on many patients at once, and a larger test set of patients like these averages away only the "
          f"rest. With four times the test patients the spread is projected at {projected:.2f} points ({low:.2f} to "
          f"{high:.2f}): {verdict}.")


def validation_thresholds(record: dict) -> None:
    """The tenth round: the ninth round's profile runs with crackle and wheeze thresholds chosen on validation
    (``tools/validation_thresholds.py``), against their argmax decisions, judged by the rule the record states."""
    from respirelib.apps.bench_precision import paired_comparison
    from respirelib.training.evaluate import PRESENCE_THRESHOLD_GRID
    from respirelib.training.metrics import icbhi_scores

    labels = _classes(record["labels"])

    def scored(decisions: str) -> dict:
        return icbhi_scores(labels, _classes(decisions))

    runs = record["runs"]
    argmax = [scored(run["argmax"]) for run in runs]
    tuned = [scored(run["thresholds"]) for run in runs]
    theirs, ours = (np.array([100 * s["four_class"]["score"] for s in scores]) for scores in (argmax, tuned))
    our_std, their_std = ours.std(ddof=1), theirs.std(ddof=1)
    spread = _spread_difference(ours, theirs)
    comparison = paired_comparison(list(theirs), list(ours))
    lowest = _lowest_recall(tuned)
    checks = [spread.high < 0, comparison["ci"][0] > -1.0, lowest >= 0.30]
    edges = sum(run[key] in (PRESENCE_THRESHOLD_GRID[0], PRESENCE_THRESHOLD_GRID[-1])
                for run in runs for key in ("crackle_threshold", "wheeze_threshold"))
    low, high = (format_signed(bound) for bound in comparison["ci"])
    print(f"\nThresholds chosen on validation, over the {len(runs)} seeds of `results/{THRESHOLDS_TEN.name}` "
          f"({_data_of(record)}: {runs[0]['n_validation_cycles']} validation and {record['n_cycles']} test cycles; "
          f"{_cpu_of(record)}, {_threads(record['hardware']['torch_threads'])}, {runs[0]['precision']}): 4-class score {ours.mean():.1f} ± {our_std:.2f} "
          f"against {theirs.mean():.1f} ± {their_std:.2f} with the argmax; spread difference "
          f"{our_std - their_std:+.2f} ({spread.low:+.2f} to {spread.high:+.2f}, paired bootstrap "
          f"over the seeds): " + ("within the noise" if spread.low <= 0 <= spread.high else "beyond the noise")
          + f"; score difference {format_signed(comparison['mean'])} ({low} to {high}): "
          f"{comparison['verdict'].replace('the second is', 'the thresholds score')}; lowest class recall of any seed "
          f"{100 * lowest:.1f} % (argmax: {100 * _lowest_recall(argmax):.1f} %). "
          f"{edges} of the {2 * len(runs)} chosen thresholds lie on the grid's edge "
          f"({PRESENCE_THRESHOLD_GRID[0]:.2f} or {PRESENCE_THRESHOLD_GRID[-1]:.2f}). Judged by the rule written "
          f"before it ran: " + ("meets it" if all(checks) else "fails it") + ".")


def _lowest_recall(scores: list[dict]) -> float:
    """The lowest recall of any class in any of ``scores`` (:func:`icbhi_scores`), skipping a class with no cycles."""
    return min(value for s in scores for value in s["class_recall"].values() if value is not None and value == value)


def _data_of(record: dict) -> str:
    data = record["data"]
    if data["label"] != "synthetic":
        return f"{data['label']} data"
    return (f"SYNTHETIC, scale {data['scale']:g}, difficulty {data['difficulty']:g}, sound model "
            f"{data['sound_version']}, draw seed {data['seed']}")


def _cpu_of(record: dict) -> str:
    hardware = record["hardware"]
    return f"{hardware['cpu_count']}-core {hardware['cpu_model']}"


if __name__ == "__main__":
    round_records = json.loads(RECORDS.read_text())["records"]
    main(round_records)
    if ONE_THREAD.is_file():
        setup_check(round_records)
    if any(c["name"] in set().union(*ZOOM_GROUPS.values()) for r in round_records for c in r["candidates"]):
        zoom_check(round_records)
    for later, (base_name, base_threads) in LATER_ROUNDS.items():
        if later.is_file():
            later_round(json.loads(later.read_text())["records"], base_name=base_name, base_threads=base_threads)
    if ROUND_EIGHT.is_file():  # the choice of the eighth round: thirty epochs against twenty-four, at the demo's one thread
        paired_sentence(json.loads(ROUND_EIGHT.read_text())["records"], ("e30", 1), ("ema98-mr", 1))
        if MORE_SEEDS.is_file():
            more_seeds(json.loads(ROUND_EIGHT.read_text())["records"], json.loads(MORE_SEEDS.read_text())["records"],
                       name="e30", threads=1)
    if ROUND_NINE.is_file() and MORE_SEEDS.is_file():
        nine = json.loads(ROUND_NINE.read_text())["records"]
        later_round(nine, base_name="quick", base_threads=1)
        ninth_round_rule(nine, base_name="quick")
        seed_spread_chance(json.loads(ROUND_EIGHT.read_text())["records"] + json.loads(MORE_SEEDS.read_text())["records"],
                           ("e30", 1), nine, ("quick", 1))
    if ANATOMY_NINE.is_file():
        spread_anatomy(json.loads(ANATOMY_NINE.read_text()), base_name="quick")
    if THRESHOLDS_TEN.is_file():
        validation_thresholds(json.loads(THRESHOLDS_TEN.read_text()))
