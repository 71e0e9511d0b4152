# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 07 · Results: this run next to the paper
#
# *Words used here are explained in the [glossary](00_glossary.md).*
#
# **Goal:** gather every number the pipeline produced into the paper's tables (Table I for each split that
# ran, Table II when the input-length sweep ran, Table III), the paper's figures beside ours as a
# reference, mean ± std where several seeds ran, rows compared paired, and the provenance needed to trust
# or repeat it.
#
# Read the banner first: it says whether these numbers come from the real ICBHI database or from the
# synthetic set, and whether the network started from ImageNet weights or from random ones.

# %% tags=["parameters"]
data_dir = None
profile = "quick"
seed = 0
device = "auto"
run_dir = None           # the pipeline run directory to report on; None: the newest one under runs/
figures_dir = "figures"

# %%
# %matplotlib inline
from pathlib import Path

import pandas as pd
from IPython.display import Markdown, display

from respirelib.experiments import tables
from respirelib.experiments.notebook import record_numbers, resolve_notebook_data
from respirelib.experiments.study import collect_metrics
from respirelib.training.metrics import format_signed
from respirelib.viz.tables import page_table

# %%
if run_dir is None:
    from respirelib.runs import latest_pipeline_run

    run_dir = str(latest_pipeline_run())
    print(f"reporting on the newest pipeline run: {run_dir}")
gathered = tables.gather_results(run_dir)
labels = gathered["labels"]
color = "#b00020" if labels["synthetic"] or labels["random_init"] else "#1b5e20"
lines = tables.banner(labels).splitlines()
display(Markdown(f'<div style="border:4px solid {color};padding:12px;font-size:1.6em;color:{color}">'
                 + "<br>".join(f"<b>{line}</b>" for line in lines) + "</div>"))
print(tables.banner(labels))

# %% [markdown]
# ## Table I: the ablation
#
# Sp, Se and Score in percent. "ours" is the mean ± standard deviation over the seeds that ran (one seed
# shows the mean alone); the Score's 95 % confidence interval of that mean, from a patient-level bootstrap
# (1000 resamples of the test patients), has a column of its own. The paper's numbers come from the real
# ICBHI database and stand beside ours as a reference: they are never subtracted from ours, which may come
# from the synthetic set. The paper gives no intervals. Our checkpoints are selected on validation patients
# and every test input is padded without labels; the paper's code selected on the test set and padded with
# the test labels (the optimism table below measures both). Below the tables, each pair of rows is
# compared paired (same seeds, same test patients).

# %%
for task in ("4-class", "2-class"):
    table = tables.table_one(run_dir, task=task)
    display(Markdown(f"**Table I, {task}**"))
    display(page_table(table.rename(columns=tables.TABLE_ONE_HEADERS)) if not table.empty else "no training runs found")
display(Markdown(tables.INTERVAL_NOTE))
comparisons = tables.row_comparisons(run_dir)
display(page_table(comparisons.drop(columns="in words"), formats={"mean (points)": format_signed}))
display(Markdown("\n".join(f"- {sentence}" for sentence in comparisons["in words"])))
runs = collect_metrics(run_dir)
for split, group in (runs.groupby("split", sort=False) if not runs.empty else ()):
    n_patients = pd.read_csv(group["predictions"].iloc[0])["patient"].nunique()
    print(f"{split} split: {n_patients} test patients{' in one fold' if split == 'patient-cv' else ''} "
          f"({labels['data']} data): the intervals above resample them")

# %% [markdown]
# ## Recall of each class, per seed
#
# One row per trained run (and its fine-tuned models, +FT): the test recall of each class in percent.

# %%
display(page_table(tables.recall_table(run_dir)))

# %% [markdown]
# ## The optimism table: how much of a number comes from how it was measured
#
# The same trained runs, measured several ways (the sentence under the table counts them). *Ours* selects
# the checkpoint on validation patients and pads
# every test input without labels. The *last epoch* uses no selection at all. The *reference code* chose
# the epoch with the best **test** score (the test set was monitored after every validation epoch only for
# this row, and never used to select). The *paper as written* pads each test cycle with neighbours chosen
# by the **test labels**. Finally one seed beside the mean ± std over seeds and the best of them: a
# published single run may be anywhere in that spread. Rows that read the test labels are diagnostics,
# not results; each cell is `value [95 % interval]` in percent.

# %%
for split in ("official", "patient"):
    optimism = tables.optimism_table(run_dir, split=split, device=device)
    if not optimism.empty:
        display(Markdown(f"**Optimism, 4-class, {split} split** ({labels['data']} data)"))
        display(page_table(optimism))
        display(Markdown(tables.optimism_in_words(optimism)))

# %% [markdown]
# ## Table II: input length
#
# Present when notebook 04 ran with `cycle_sweep`.

# %%
sweep = tables.table_two(run_dir)
display(page_table(sweep, units={"mean": "%", "std": "points", "paper": "real ICBHI, %"}) if not sweep.empty
        else Markdown("_the input-length sweep did not run_"))

# %% [markdown]
# ## Table III: device-specific fine-tuning
#
# Score change per device, in points. A device with no test cycles in a split (LittC2SE in the official
# split of the real data) has no number, and the note says why. Below it, each device's change with its
# paired patient-bootstrap interval (as in notebook 05).

# %%
devices = tables.table_three(run_dir)
display(page_table(devices, units={"mean": "points", "std": "points", "per seed": "points",
                                   "paper": "real ICBHI, points"})
        if not devices.empty else Markdown("_stage 2 did not run_"))
device_tests = tables.device_comparisons(run_dir)
if not device_tests.empty:
    display(page_table(device_tests.drop(columns="in words"), formats={"mean (points)": format_signed}))
    display(Markdown("\n".join(f"- {sentence}" for sentence in device_tests["in words"])))

# %% [markdown]
# ## What this run shows
#
# Generated from this run's numbers (the paired comparisons above), not written by hand:

# %%
display(Markdown(tables.comparisons_in_words(comparisons)))

# %% [markdown]
# ## Provenance

# %%
display(page_table(tables.provenance_table(labels)))
record_path = record_numbers(run_dir, "07_results.json", gathered)

# %% [markdown]
# ## Using the model on a recording
#
# The trained run can be exported as one file with a model card, then used on any recording (any sample
# rate, mono or multi-channel, wav or flac): with its annotation file, one class and four probabilities
# per cycle; without, probabilities over sliding windows. Here a test recording of the run's own data
# stands in for "your own recording"; `respirenet export` and `respirenet predict` do the same from a
# shell. The card states the data the model was trained on: a model trained on the synthetic set knows
# nothing about real lungs, and no model here is a medical device.

# %%
from respirelib.inference.export import export_model, load_exported_model
from respirelib.data.icbhi import load_icbhi
from respirelib.inference.predict import predict_recording
from respirelib.viz.save import save_figure

model_run = Path(run_dir) / "train" / "official-full-seed0"
if (model_run / "metrics.json").is_file():
    model_file = Path(run_dir) / "export" / "respirenet.pt"
    if not model_file.exists():
        export_model(model_run, model_file)
    model = load_exported_model(model_file)
    data_path = resolve_notebook_data(data_dir, profile, trained_run=model_run)  # the data the model learnt from
    recordings = load_icbhi(data_path, errors="skip").recordings
    example = recordings[recordings["split"] == "test"].iloc[0]
    annotated = predict_recording(model, example["audio_path"], annotations=example["annotation_path"])
    print(annotated.title())
    display(page_table(annotated.table, digits=3))
    fig = annotated.figure(data_label=labels["data"])  # cycle boundaries, true and predicted classes
    save_figure(fig, "07_prediction_timeline", out_dir=figures_dir)
    display(fig)
else:
    print("no trained run in this pipeline run: nothing to export")

# %% [markdown]
# ## What to try next
#
# - Reproduce on the real database with a GPU: `make reproduce DATA=/path/to/ICBHI` (paper profile, both
#   splits, five seeds).
# - Read the optimism table again: how much of a published single number could come from choosing the
#   checkpoint on the test set, or from the best of several seeds? Run more seeds and see the spread grow
#   or shrink.
# - Explain single cycles: `respirenet explain --run RUN/train/official-full-seed0 --cycle NAME:INDEX`.
# - Try the exported model on your own recording: `respirenet predict my_recording.wav --model
#   RUN/export/respirenet.pt` (add `--annotations my_recording.txt` for per-cycle classes, and
#   `--stethoscope Meditron` to name the recording device, which picks its fine-tuned model).

# %% [markdown]
# Previous: [06 · Where the model looks: Grad-CAM++ explanations](06_explanations.ipynb)
#
# Next: none, this is the last notebook; back to [01](01_dataset_analysis.ipynb)
#
# Glossary: [words used in these notebooks](00_glossary.md)
