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
# # 01 · The ICBHI 2017 dataset
#
# **Goal:** know the data before modelling it: how many breathing cycles of each class, from which devices,
# how long they are, and how the official 60/40 split divides them. RespireNet (Gairola et al., 2021, §II)
# classifies each annotated *cycle* as normal, crackle, wheeze or both; everything later in this companion
# works on the table of cycles built here.
#
# With no `data_dir`, this notebook uses the project's **synthetic ICBHI-shaped dataset** (same layout,
# similar statistics, invented sounds): the profile's own set, the one notebooks 02-06 use too (for `quick`,
# half-size and difficulty 0.3). The first data cell says which dataset it is. Numbers from it describe the
# synthetic set, never the real one.

# %% tags=["parameters"]
data_dir = None          # an ICBHI folder, or None for the profile's synthetic set (written on first use)
profile = "quick"        # smoke | quick | paper: the synthetic default and the number of examples
seed = 0
device = "auto"          # unused here; kept so every notebook takes the same parameters
run_dir = None           # where numbers are written as JSON (None: not written)
figures_dir = "figures"  # where figures are saved

# %%
# %matplotlib inline
import matplotlib.pyplot as plt
from IPython.display import Audio, Markdown, display

from respirelib.data.audio import read_audio
from respirelib.data.icbhi import load_icbhi
from respirelib.data.summary import data_summary, format_summary, pick_examples, split_by_device
from respirelib.experiments.notebook import record_numbers, resolve_notebook_data
from respirelib.viz import data as viz
from respirelib.viz.save import save_figure
from respirelib.viz.tables import page_table

# %% [markdown]
# ## Load the database
#
# The loader reads the folder exactly as ICBHI distributes it (`NAME.wav` + `NAME.txt` per recording, the
# split file, the diagnosis and demographic files) and survives the quirks of the real release: CRLF line
# endings, a split-file entry whose device suffix differs from the recording's, recordings renamed between
# releases. Whatever it skipped, repaired or ignored is in its report; nothing is dropped silently.

# %%
data_path = resolve_notebook_data(data_dir, profile)
dataset = load_icbhi(data_path, errors="skip")
summary = data_summary(dataset)
label = dataset.data_label
if dataset.is_synthetic:
    display(Markdown("## ⚠️ SYNTHETIC DATA: every number below describes the synthetic set, not ICBHI"))
print(format_summary(summary))

# %% [markdown]
# ## Classes and devices
#
# The classes are imbalanced (about half the cycles are normal, and *both* is the rarest class), and so are
# the four recording devices: most cycles come from the AKG C417L microphone. The paper answers the first
# with a weighted sampler and concatenation-based augmentation (§III-B) and the second with device-specific
# fine-tuning (§III-D). The right panel shows why devices matter: each has its own class mix.

# %%
fig = viz.plot_class_and_device_counts(dataset.cycles, data_label=label)
save_figure(fig, "01_classes_devices", out_dir=figures_dir)

# %% [markdown]
# ## Cycle lengths
#
# Cycles last from a fraction of a second to more than 15 s. The network needs a fixed-size input, so every
# cycle is padded or cut to one length: the paper's Table II finds 7 s best, which covers nearly all cycles
# (longer ones are split into windows, notebook 02).

# %%
fig = viz.plot_cycle_durations(dataset.cycles, data_label=label)
save_figure(fig, "01_cycle_lengths", out_dir=figures_dir)
share_longer = float((dataset.cycles["duration"] > 7).mean())
print(f"cycles longer than 7 s: {share_longer:.1%}")

# %% [markdown]
# ## The official 60/40 split
#
# The challenge's split divides *recordings*, not patients, and it is lopsided by device: in the real data
# every LittC2SE recording is in train and nearly every Litt3200 recording in test. Device-specific
# fine-tuning (notebook 05) therefore has no LittC2SE test cycles and few Litt3200 training cycles on this
# split; it is reported as such. Two real patients (156 and 218) sit on both sides of the split.

# %%
fig = viz.plot_split_composition(dataset.cycles, data_label=label)
save_figure(fig, "01_official_split", out_dir=figures_dir)
display(page_table(split_by_device(dataset.recordings)))
print("patients in both parts:", summary["overlap_patients"] or "none")

# %% [markdown]
# ## Patients
#
# A few patients contribute many cycles (several chest locations, several sessions). This is why the
# patient-disjoint 80/20 split and the validation set used for model selection are drawn by patient, never
# by cycle: cycles of one patient are far more alike than cycles of two.

# %%
fig = viz.plot_cycles_per_patient(dataset.cycles, data_label=label)
save_figure(fig, "01_cycles_per_patient", out_dir=figures_dir)
display(page_table(dataset.patients.groupby("diagnosis", dropna=False).size().rename("patients").to_frame()))

# %% [markdown]
# ## Listen and look
#
# One cycle per class: its waveform, its spectrogram and a player. Crackles are short explosive clicks,
# wheezes are musical tones (horizontal lines in the spectrogram). These cells need the audio; with an
# annotation-only folder they say so and are skipped.

# %%
examples = pick_examples(dataset.cycles, per_class=1 if profile == "smoke" else 2, seed=seed)
if not dataset.has_audio:
    print("No audio in this folder (annotation files only): point data_dir at a folder with the .wav files.")
else:
    paths = dataset.recordings.set_index("recording")["audio_path"]
    for _, cycle in examples.iterrows():
        y, sr = read_audio(paths[cycle["recording"]], start=cycle["start"], stop=cycle["end"])
        title = (f"{cycle['label']}: {cycle['recording']} cycle {cycle['cycle_index']} "
                 f"({cycle['device']}, {sr} Hz, {label} data)")
        fig = viz.plot_example_cycle(y, sr=sr, title=title)
        save_figure(fig, f"01_example_{cycle['label']}_{cycle['recording']}_{cycle['cycle_index']}",
                    out_dir=figures_dir)
        plt.show()
        display(Audio(y, rate=sr))

# %% [markdown]
# ## Record the numbers
#
# The summary goes to the run directory as JSON, so the report notebook and the tests read numbers rather
# than re-deriving them.

# %%
record_numbers(run_dir, "01_dataset_summary.json", summary)

# %% [markdown]
# ## What to try next
#
# - Point `data_dir` at the annotation files alone (`../shared/icbhi-annotations` in this repository) and
#   compare the counts with the synthetic set's.
# - Write another synthetic set (`respirenet synth DIR --scale 0.2 --seed 1`) and pass it as `data_dir`: which
#   statistics stay, which move?
# - Listen to several wheezes from different devices: how much does the device change the sound?
# - Next notebook: `02_preprocessing`, from raw recordings to fixed-length 4 kHz cycles.
