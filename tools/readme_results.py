"""Print a pipeline run's Table I and Table III as Markdown, with provenance, for the README.

Usage: ``.venv/bin/python tools/readme_results.py RUN_DIR "COMMAND THAT MADE IT"`` (Table I, Table III, the optimism table)
"""

import json
import sys
from pathlib import Path

run_dir = Path(sys.argv[1])
command = sys.argv[2] if len(sys.argv) > 2 else "respirenet pipeline"
gathered = json.loads((run_dir / "07_results.json").read_text())
environment = json.loads((run_dir / "environment.json").read_text())
request = json.loads((run_dir / "pipeline.json").read_text())["request"]
labels = gathered["labels"]
marker = environment["data"].get("synthetic_marker") or {}
difficulty = f" (difficulty {marker['difficulty']:g}, scale {marker['scale']:g})" if "difficulty" in marker else ""
print(f"**{labels['data'].upper()} data{difficulty}, {', '.join(labels['inits'])}, "
      f"profile {', '.join(labels['profiles'])}** "
      f"(commit `{environment['commit']}`, {environment['hardware']['cpu_count']}-core "
      f"{environment['hardware']['processor']} CPU, torch {environment['packages']['torch']}, "
      f"seed {request['seed']}, data fingerprint `{environment['data']['fingerprint']}`; "
      f"command `{command}`)\n")
print("| split | row | task | Sp ours | Se ours | Score ours | Score paper (ICBHI) |")
print("| --- | --- | --- | --- | --- | --- | --- |")
for task, rows in (("4-class", gathered["table_one_4class"]), ("2-class", gathered["table_one_2class"])):
    for row in rows:
        print(f"| {row['split']} | {row['row']} | {task} | {row['sp ours']} | {row['se ours']} | "
              f"{row['score ours']} | {row['score paper'] if row['score paper'] is not None else '–'} |")
print("\n| device | score change from fine-tuning (points) | paper (ICBHI) |")
print("| --- | --- | --- |")
for row in gathered["table_three"]:
    change = "–" if row["mean"] is None else f"{row['mean']:+.1f}"
    note = f" ({row['note']})" if row.get("note") else ""
    print(f"| {row['device']} | {change}{note} | {row['paper']:+.1f} |")
for split, rows in gathered.get("optimism", {}).items():
    if not rows:
        continue
    print(f"\n**Optimism, {split} split, 4-class** (the same trained runs measured five ways; "
          "Sp, Se, Score in % with the 95 % patient-bootstrap interval)\n")
    print("| measured as | reads test labels | runs | Sp | Se | Score |")
    print("| --- | --- | --- | --- | --- | --- |")
    for row in rows:
        print(f"| {row['measured as']} | {row['reads test labels']} | {row['runs']} | {row['sp']} | {row['se']} | "
              f"{row['score']} |")
