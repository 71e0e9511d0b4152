"""Record how often label-aware smart padding changes a test input on the real ICBHI annotations.

Usage: ``.venv/bin/python tools/padding_leak_record.py ANNOTATIONS_DIR`` (the ICBHI annotation files: the
``.txt`` per recording and the split file; no audio needed) writes ``results/padding_leak_icbhi.json``: for
each input length of the profiles and the paper's 7 s, :func:`respirelib.signal.leakage.padding_leak_summary`
on the official split's test part, with the folder, its verification, the commit and the time. Notebook 02
shows it beside the count on its own data, so a reader without ICBHI sees the real figure and where it came
from.
"""

import datetime as dt
import json
import sys
from pathlib import Path

from respirelib.data.icbhi import load_icbhi
from respirelib.experiments.provenance import git_commit
from respirelib.signal.leakage import padding_leak_summary
from respirelib.storage import atomic_write_text
from respirelib.training.profiles import PROFILES, get_profile

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "results" / "padding_leak_icbhi.json"

if len(sys.argv) != 2:
    sys.exit(__doc__)
dataset = load_icbhi(sys.argv[1], audio="ignore")
if dataset.is_synthetic:
    sys.exit(f"{sys.argv[1]} is a synthetic set: this record is of the real ICBHI annotations")
audio = get_profile("paper").audio
durations = sorted({7.0, *(get_profile(name).audio.cycle_duration for name in PROFILES)})
record = {
    "what": "padding_leak_summary(cycles, part='test', sr=4000, duration=D, reach=smart_reach) per input length D",
    "data": dataset.data_label, "cycles": int(len(dataset.cycles)), "source": "the ICBHI 2017 annotation files",
    "commit": git_commit(), "made": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    "tool": "tools/padding_leak_record.py",
    "by_duration": {f"{d:g}": padding_leak_summary(dataset.cycles, part="test", sr=audio.sample_rate, duration=d,
                                                    reach=audio.smart_reach) for d in durations},
}
atomic_write_text(OUT, json.dumps(record, indent=2) + "\n")
print("wrote", OUT)
