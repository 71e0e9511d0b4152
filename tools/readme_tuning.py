"""The README's fourth round of quick-profile tuning (sound model 3) and its thread check, printed from records.

Usage: ``.venv/bin/python tools/readme_tuning.py`` reads ``results/quick_profile_tuning_sound3.json``
(the ``respirenet bench quick`` records of the round, one per command, as written with ``--out``) and
prints the Markdown table of every candidate: its overrides, the synthetic set it trained on, the
4-class test score mean ± std over seeds with each seed's value, the lowest class recall of any seed,
and the mean stage-1 fit time. With ``results/quick_profile_1thread.json`` (the chosen profile trained
with one torch thread, ``OMP_NUM_THREADS=1 respirenet bench quick``) it also prints that check beside the
same seeds' two-thread runs (the round's ``e24``), paired by seed.
"""

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RECORDS = ROOT / "results" / "quick_profile_tuning_sound3.json"
ONE_THREAD = ROOT / "results" / "quick_profile_1thread.json"
CHOSEN = "e24"


def main() -> None:
    records = json.loads(RECORDS.read_text())["records"]
    print("| candidate | overrides of the quick profile | synthetic set | seeds | 4-class score (per seed) "
          "| lowest class recall of any seed (%) | stage-1 fit per seed (s, mean) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for record in records:
        data = record["data"]
        where = (f"difficulty {data['difficulty']}, scale {data['scale']}, sound model {data['sound_version']}"
                 if data.get("difficulty") is not None else f"scale {data['scale']}, `{Path(data['path']).name}`")
        for candidate in record["candidates"]:
            summary = candidate["summary"]
            per_seed = ", ".join(f"{100 * run['score']:.1f}" for run in candidate["runs"])
            overrides = (json.dumps(candidate["overrides"]) if candidate["overrides"]
                         else "none (the quick profile of the record's commit)")
            print(f"| {candidate['name']} | `{overrides}` | {where} | {', '.join(map(str, record['seeds']))} | "
                  f"{summary['score']['mean']:.1f} ± {summary['score']['std']:.1f} ({per_seed}) | "
                  f"{summary['min_class_recall']:.0f} | {summary['fit_s_mean']:.0f} |")
    first = records[0]
    print(f"\n(`respirenet bench quick`, commits {', '.join(sorted({r['commit'][:7] for r in records}))}; "
          f"{first['hardware'].get('cpu_count')}-core {first['hardware'].get('cpu_model')}, "
          f"{first['torch_threads']} torch threads, precision bf16 (auto), random init, load averages "
          f"{min(r['load_average'][0] for r in records):.1f}-{max(r['load_average'][0] for r in records):.1f})")


def thread_check(records: list[dict]) -> None:
    """The chosen profile at two threads (the round's record) and at one, seed by seed."""
    from respirelib.apps.bench_precision import paired_comparison

    two = next(c for r in records for c in r["candidates"] if c["name"] == CHOSEN)
    one_record = json.loads(ONE_THREAD.read_text())
    one = one_record["candidates"][0]
    seeds = [run["seed"] for run in two["runs"]]
    assert [run["seed"] for run in one["runs"]] == seeds, "the thread check must train the same seeds"
    print(f"\n| torch threads | 4-class score (per seed {', '.join(map(str, seeds))}) | std | "
          "lowest class recall of any seed (%) | stage-1 fit per seed (s, mean) |")
    print("| --- | --- | --- | --- | --- |")
    for threads, candidate in ((2, two), (one_record["torch_threads"], one)):
        summary = candidate["summary"]
        per_seed = ", ".join(f"{100 * run['score']:.1f}" for run in candidate["runs"])
        print(f"| {threads} | {summary['score']['mean']:.1f} ({per_seed}) | "
              f"{summary['score']['std']:.1f} | {summary['min_class_recall']:.0f} | {summary['fit_s_mean']:.0f} |")
    paired = paired_comparison([100 * run["score"] for run in two["runs"]],
                               [100 * run["score"] for run in one["runs"]])
    print(f"\nOne thread minus two, paired by seed: {paired['mean']:+.1f} points on average (95 % t interval "
          f"{paired['ci'][0]:+.1f} to {paired['ci'][1]:+.1f}; per seed "
          f"{', '.join(f'{d:+.1f}' for d in paired['differences'])}): "
          f"{paired['verdict'].replace('the second', 'one thread')}. (One-thread record: commit "
          f"`{one_record['commit'][:7]}`, load average {one_record['load_average'][0]:.1f}.)")


if __name__ == "__main__":
    main()
    if ONE_THREAD.is_file():
        thread_check(json.loads(RECORDS.read_text())["records"])
