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
# # 05 · Device-specific fine-tuning (stage 2) and Table III
#
# *Words used here are explained in the [glossary](00_glossary.md).*
#
# **Goal:** start from the stage-1 model chosen on validation, make one copy per recording device,
# fine-tune each copy on that device's training cycles (paper §II-A, "Device Specific Fine-tuning"; its
# schedule, lr 1e-4 for 50 epochs, is in §III's implementation details), and score each test cycle with its
# own device's model. This notebook's schedule is the profile's, printed below beside the paper's. The
# paper reports the largest gains for the two Littmann
# stethoscopes, the devices with the fewest cycles (Table III).

# %% tags=["parameters"]
data_dir = None
profile = "quick"
seed = 0
device = "auto"
precision = "auto"       # auto | fp32 | bf16: of a run trained here; stage 2 keeps the precision its run trained in
run_dir = None           # the pipeline's run directory (notebook 04 trained into run_dir/train/)
figures_dir = "figures"
splits = ["official"]    # any of "official" (60/40), "patient" (80/20) and "patient-cv" (5 folds)
seeds = None
init = "imagenet-if-available"
train = True
workers = None           # fine-tuning runs side by side on a CPU (None: the profile's, 2 for quick; 1: one by one)

# %%
# %matplotlib inline
import json
from pathlib import Path

import pandas as pd
from IPython.display import Markdown, display

from respirelib import paper
from respirelib.experiments import study, tables
from respirelib.experiments.notebook import record_numbers, resolve_notebook_data
from respirelib.experiments.variants import expand_splits, split_group
from respirelib.storage import new_run_dir
from respirelib.training.metrics import format_signed
from respirelib.training.profiles import get_profile
from respirelib.viz.results import plot_device_gains
from respirelib.viz.save import save_figure
from respirelib.viz.tables import page_table

# %% [markdown]
# ## Fine-tune per device
#
# Device names are fixed (AKGC417L, Meditron, LittC2SE, Litt3200), never a directory's listing order as in
# the reference code. The stage-1 model is each device's "epoch 0": a fine-tuned epoch is kept only if it
# beats it on that device's *validation* cycles (padded without labels, as the test cycles are).
# **Departure:** a device with no training cycles, or with no validation cycles to select on, is **not
# fine-tuned at all**: its test cycles keep the stage-1 model, since nothing could tell whether a
# fine-tuned copy is better. On the official split the real data has **no LittC2SE test recordings** and
# only a handful of Litt3200 training cycles; the table below says so rather than inventing a number.

# %%
data_path = resolve_notebook_data(data_dir, profile)
root = Path(run_dir) if run_dir is not None else new_run_dir("runs", "notebook05")
seed_list = list(seeds) if seeds else [seed]
jobs = [{"split": split, "variant": "full", "seed": s} for split in expand_splits(splits) for s in seed_list]
# side by side on a CPU, as in notebook 04 (`workers`; the profile's default)
runs = study.ensure_runs(root, data_path, jobs, workers=workers or get_profile(profile).parallel_runs, profile=profile,
                         init=init, device=device, precision=precision, finetune=True, train=train)
finetuned = [json.loads((run / "metrics_finetuned.json").read_text()) for run in runs]
label = f"{finetuned[0]['data']} data, {finetuned[0]['init']}, profile {finetuned[0]['profile']}"
if finetuned[0]["synthetic"]:
    display(Markdown("## ⚠️ SYNTHETIC DATA: these are not ICBHI results"))
stage2, paper_stage2 = get_profile(profile).stage2, get_profile("paper").stage2
print(f"stage 2 here (profile {profile}): {stage2.epochs} epoch{'s' if stage2.epochs != 1 else ''} per device at lr "
      f"{stage2.lr:g}; the paper: {paper_stage2.epochs} epochs at lr {paper_stage2.lr:g}")
display(Markdown(f"What stage 2 did per device in the first run ({runs[0].name}):"))
display(page_table(pd.DataFrame(finetuned[0]["devices"]).T.rename_axis("device").rename(columns={
    "best_epoch": "selected epoch (0: stage 1)", "n_train_inputs": "training inputs",
    "n_selection_inputs": "validation inputs", "reason": "why not fine-tuned"})))

# %% [markdown]
# ## Table III: what fine-tuning changed, per device
#
# The score of each device's test cycles before (stage-1 model) and after (its device model), in points:
# each seed's change (a paired difference: the same run, the same test cycles), their mean and standard
# deviation over seeds, and the note of **every** seed (a device may be fine-tuned in one seed and keep its
# stage-1 weights in another). The paper's column is real ICBHI, a reference, never subtracted from ours.
# Below it, each device's change is tested as the rows of Table I are: a paired patient bootstrap over
# that device's test patients, all seeds together. A device with few test patients gets an interval tens of
# points wide, and a device that kept its stage-1 weights in every seed changes by exactly 0. The figure's
# error bars are one standard deviation over seeds.

# %%
table_three = tables.table_three(root, splits=splits)
display(Markdown(f"**Table III**, score change in points ({label})"))
display(page_table(table_three, units={"mean": "points", "std": "points", "per seed": "points",
                                       "paper": "real ICBHI, points"}))
device_tests = tables.device_comparisons(root, splits=splits)
display(page_table(device_tests.drop(columns="in words"), formats={"mean (points)": format_signed}))
display(Markdown("\n".join(f"- {sentence}" for sentence in device_tests["in words"])))
changes = tables.device_changes(root, splits=splits)
for split in splits:
    fig = plot_device_gains(changes[changes["split"] == split_group(split)], paper.TABLE_III,
                            data_label=finetuned[0]["data"], init=finetuned[0]["init"],
                            title=f"Table III: device-specific fine-tuning ({paper.SPLIT_NAMES.get(split, split)})")
    save_figure(fig, f"05_device_gains_{split}", out_dir=figures_dir)
    display(fig)

# %% [markdown]
# ## The +FT row of Table I
#
# The whole test split, each cycle scored by its device's model, beside its own stage-1 model (+CBA+BRC).
# The two rows come from the same runs, so they are compared paired: each seed's difference, and a paired
# patient bootstrap of the mean difference (the test patients drawn once per resample, both rows scored on
# them). The interval covers the test patients only; the per-seed differences show the training noise.

# %%
table_one = tables.table_one(root, task="4-class", splits=splits, variants=["full"])
display(page_table(table_one.rename(columns=tables.TABLE_ONE_HEADERS)))
display(Markdown(tables.INTERVAL_NOTE))
comparisons = tables.row_comparisons(root, splits=splits, variants=["full"])
display(page_table(comparisons.drop(columns="in words"), formats={"mean (points)": format_signed}))
display(Markdown("\n".join(f"- {sentence}" for sentence in comparisons["in words"])))
record_path = record_numbers(root, "05_device_finetuning.json", {
    "splits": splits, "seeds": seed_list, "label": label, "table_three": table_three.to_dict(orient="records"),
    "table_one_4class": table_one.to_dict(orient="records"), "comparisons": comparisons.to_dict(orient="records"),
    "device_comparisons": device_tests.to_dict(orient="records"),
    "stage2_epochs": stage2.epochs, "paper_stage2_epochs": paper_stage2.epochs})

# %% [markdown]
# ## What this run shows
#
# Generated from this run's numbers, not written by hand:

# %%
display(Markdown(tables.comparisons_in_words(comparisons)))

# %% [markdown]
# ## What to try next
#
# - Run the patient-disjoint split (`splits=["patient"]`), where every device has test cycles.
# - Fine-tune only the head (freeze the backbone) and compare: is the gain from adapting the features or
#   the decision?
# - Next: `06_explanations`, where the model looks (Grad-CAM++).

# %% [markdown]
# Previous: [04 · Training RespireNet (stage 1) and the ablation of Table I](04_training.ipynb)
#
# Next: [06 · Where the model looks: Grad-CAM++ explanations](06_explanations.ipynb)
#
# Glossary: [words used in these notebooks](00_glossary.md)
