"""The README's fourth round of quick-profile tuning (sound model 3), printed from its records.

Usage: ``.venv/bin/python tools/readme_tuning.py`` reads ``results/quick_profile_tuning_sound3.json``
(the ``respirenet bench quick`` records of the round, one per command, as written with ``--out``) and
prints the Markdown table of every candidate: its overrides, the synthetic set it trained on, the
4-class test score mean ± std over seeds with each seed's value, the lowest class recall of any seed,
and the mean stage-1 fit time.
"""

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RECORDS = ROOT / "results" / "quick_profile_tuning_sound3.json"


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


if __name__ == "__main__":
    main()
