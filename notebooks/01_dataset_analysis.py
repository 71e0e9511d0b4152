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
# *Words used here are explained in the [glossary](00_glossary.md).*
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
real_dir = None          # real ICBHI recordings to hear beside the synthetic ones (None: data/ICBHI, else ../shared)
synthetic_dir = None     # the synthetic set to compare real audio with (None: the profile's)

# %%
# %matplotlib inline
import matplotlib.pyplot as plt
from IPython.display import Audio, Markdown, display

from respirelib.data.audio import read_audio
from respirelib.data.icbhi import load_icbhi
from respirelib.data.summary import data_summary, format_summary, pick_examples, split_by_device
from respirelib.experiments.notebook import realism_sets, record_numbers, resolve_notebook_data
from respirelib.signal.features import log_mel
from respirelib.signal.preprocess import player_clip
from respirelib.signal.realism import class_examples, realism_report
from respirelib.viz import data as viz
from respirelib.viz import realism as viz_realism
from respirelib.viz.save import save_figure
from respirelib.viz.signal import plot_spectrogram_grid
from respirelib.viz.tables import page_table


def listen(y, sr):
    """A player at 4 kHz and the clip's true level (IPython would rescale every clip to full scale)."""
    clip, rate = player_clip(y, sr=sr)
    return Audio(clip, rate=rate, normalize=False)

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
    scale = dataset.synthetic["scale"]
    display(Markdown(f"This synthetic set is written at **scale {scale:g}** of the ICBHI database's size "
                     f"({'half-size' if scale == 0.5 else 'full-size' if scale == 1 else f'{scale:.0%} of it'}): "
                     f"{summary['cycles']} cycles, {summary['recordings']} recordings and {summary['patients']} "
                     "patients, where ICBHI has 6898, 920 and 126 (paper §II)."))
print(format_summary(summary))

# %% [markdown]
# ## Classes and devices
#
# The classes are imbalanced (about half the cycles are normal, and *both* is the rarest class), and so are
# the four recording devices: most cycles come from the AKG C417L microphone. The paper answers the first
# with a weighted sampler and concatenation-based augmentation and the second with device-specific
# fine-tuning (both in §II-A). The right panel shows why devices matter: each has its own class mix.

# %%
fig = viz.plot_class_and_device_counts(dataset.cycles, data_label=label)
save_figure(fig, "01_classes_devices", out_dir=figures_dir, data_label=label)
plt.show()

# %% [markdown]
# ## Cycle lengths
#
# Cycles vary a lot in length. The network needs a fixed-size input, so every cycle is padded or cut to one
# length: the paper's Table II finds 7 s best. The sentence below the figure gives this data's range.

# %%
fig = viz.plot_cycle_durations(dataset.cycles, data_label=label)
save_figure(fig, "01_cycle_lengths", out_dir=figures_dir, data_label=label)
plt.show()
durations = summary["cycle_duration"]
share_longer = float((dataset.cycles["duration"] > 7).mean())
display(Markdown(f"In this {label} set, cycles last from {durations['min']:.2f} s to {durations['max']:.2f} s "
                 f"(median {durations['median']:.2f} s); {share_longer:.1%} are longer than 7 s and become "
                 "overlapping windows (notebook 02), the others are padded."))

# %% [markdown]
# ## The official 60/40 split
#
# The challenge's split divides *recordings*, not patients, and it is lopsided by device: in the real data
# every LittC2SE recording is in train and nearly every Litt3200 recording in test. Device-specific
# fine-tuning (notebook 05) therefore has no LittC2SE test cycles and few Litt3200 training cycles on this
# split; it is reported as such. Two real patients (156 and 218) sit on both sides of the split.

# %%
fig = viz.plot_split_composition(dataset.cycles, data_label=label)
save_figure(fig, "01_official_split", out_dir=figures_dir, data_label=label)
plt.show()
display(Markdown("Recordings and cycles per device in each part of the split:"))
display(page_table(split_by_device(dataset.recordings).add_suffix(" recordings")
                   .join(split_by_device(dataset.recordings, unit="cycles").add_suffix(" cycles")), digits=0))
print("patients in both parts:", ", ".join(map(str, summary["overlap_patients"])) or "none")

# %% [markdown]
# ## Patients
#
# A few patients contribute many cycles (several chest locations, several sessions). This is why the
# patient-disjoint 80/20 split and the validation set used for model selection are drawn by patient, never
# by cycle: cycles of one patient are far more alike than cycles of two.

# %%
fig = viz.plot_cycles_per_patient(dataset.cycles, data_label=label)
save_figure(fig, "01_cycles_per_patient", out_dir=figures_dir, data_label=label)
plt.show()
display(page_table(dataset.patients.groupby("diagnosis", dropna=False).size().rename("patients").to_frame()))

# %% [markdown]
# ## Listen and look
#
# Two cycles per class (one in the smoke profile): its waveform, its spectrogram and a player. Crackles are
# short explosive clicks, wheezes are musical tones (horizontal lines in the spectrogram). Not every click or
# tone is the labelled sound, though: like real recordings, every synthetic one (normal ones included)
# carries heart sounds, rumble below 100 Hz, handling clicks and rubs, sometimes mains hum, a steady noise
# band or a patient's groan or grunt, and short tonal blips, so a crackle cycle may show a tonal arc and a
# normal one a click that fades upward just as a crackle does. Telling the labelled
# sound from this clutter is the task. These cells need the audio; with an annotation-only folder they say
# so and are skipped. The players play the cycle at 4 kHz (all the model
# keeps, notebook 02, and a small notebook) at the recording's own level, without rescaling each clip to full
# scale as a player does by default: a quiet device then sounds quiet, so devices compare by ear.

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
                    out_dir=figures_dir, data_label=label)
        plt.show()
        display(listen(y, sr=sr))

# %% [markdown]
# ## Real and synthetic, side by side
#
# The synthetic set stands in for ICBHI, so it should sound like it. Where real ICBHI recordings are at hand
# (`real_dir`; by default `data/ICBHI`, where `respirenet data download` puts the database, or the six
# recordings in `../shared/icbhi-audio-sample` beside this repository), the realism report measures the
# normal cycles of both, device by device: where their power lies, how loud the breath is against the floor
# between breaths, how strong the heart sounds are and how far up the band they reach, how many clicks and
# tones they carry. Each synthetic
# statistic's distance from the real median stands beside the real recordings' own spread; a handful of real
# recordings makes that spread a rough guide, not a verdict (`respirenet data realism REAL_DIR` prints the
# same table).

# %%
real_set, synthetic_set, note = realism_sets(dataset, data_path, profile, real_dir=real_dir,
                                             synthetic_dir=synthetic_dir)
display(Markdown(note))
if real_set is not None:
    report = realism_report(real_set, synthetic_set, per_device=3 if profile == "smoke" else 12, seed=seed)
    summary_line = (f"{report.summary['within']} of {report.summary['compared']} (device, statistic) pairs of the "
                    f"synthetic set lie within the real recordings' spread or the tolerance "
                    f"({len(report.real)} real recordings of {', '.join(report.summary['devices'])}; "
                    f"{len(report.synthetic)} synthetic ones).")
    display(Markdown(summary_line))
    table = report.comparison.assign(real=[f"{m:.1f} ± {s:.1f}" for m, s in zip(report.comparison["real_median"],
                                                                                report.comparison["real_spread"])])
    display(page_table(table.pivot(index="statistic", columns="device", values="real").add_suffix(" real")
                       .join(table.pivot(index="statistic", columns="device", values="distance")
                             .add_suffix(" distance"))))
    save_figure(viz_realism.plot_realism_spectra(report.freqs, report.real_spectra, report.synthetic_spectra),
                "01_realism_spectra", out_dir=figures_dir, data_label=label)
    save_figure(viz_realism.plot_realism_statistics(report.comparison), "01_realism_statistics",
                out_dir=figures_dir, data_label=label)
    plt.show()

# %% [markdown]
# ### Listen to the difference
#
# One real and one synthetic cycle of each class, the synthetic one from the real one's device where it can be.
# Both went through the same pre-processing (4 kHz, 50 Hz high-pass, each recording scaled by its own peak):
# the players play them as the model hears them, without rescaling each clip, so their loudness compares.

# %%
if real_set is not None:
    examples_by_class = class_examples(real_set, synthetic_set, seed=seed)
    for name, (real_cycle, synthetic_cycle) in examples_by_class.items():
        if real_cycle is None:
            print(f"{name}: no real example in {real_set.root}; only the synthetic one is shown")
        shown = {f"real, {real_cycle.title}": real_cycle} if real_cycle is not None else {}
        shown[f"synthetic, {synthetic_cycle.title}"] = synthetic_cycle
        fig = plot_spectrogram_grid({title: log_mel(cycle.y, sr=cycle.sr) for title, cycle in shown.items()},
                                    ncols=len(shown), title=f"{name}: real vs synthetic")
        save_figure(fig, f"01_real_vs_synthetic_{name}", out_dir=figures_dir, data_label=label)
        plt.show()
        for title, cycle in shown.items():
            print(title)
            display(listen(cycle.y, sr=cycle.sr))
else:
    print("No real ICBHI audio to listen to (see the cell above): this comparison is skipped.")

# %% [markdown]
# ## Record the numbers
#
# The summary goes to the run directory as JSON, so the report notebook and the tests read numbers rather
# than re-deriving them.

# %%
if real_set is not None:
    summary["realism"] = {"real_dir": str(real_set.root), **report.summary,
                          "real_examples": {name: None if real_cycle is None else real_cycle.title
                                            for name, (real_cycle, _) in examples_by_class.items()}}
written = record_numbers(run_dir, "01_dataset_summary.json", summary)

# %% [markdown]
# ## What this run shows
#
# Written from this run's numbers, not by hand.

# %%
counts, devices = summary["class_counts"], summary["device_counts"]
top_device = max(devices, key=devices.get)
train_cycles = summary["split"]["train"]["cycles"]
display(Markdown(
    f"- In this {label} set, {counts['normal'] / summary['cycles']:.0%} of the {summary['cycles']} cycles are "
    f"normal and {counts['both'] / summary['cycles']:.0%} are *both*, the rarest class "
    f"(the paper: 53 % normal in ICBHI).\n"
    f"- {top_device} recorded {devices[top_device] / summary['cycles']:.0%} of the cycles "
    f"(the paper: 63 % from the AKGC417L in ICBHI).\n"
    f"- The official split puts {train_cycles / max(summary['cycles'], 1):.0%} of the cycles in train "
    f"({summary['split']['train']['recordings']} of {summary['recordings']} recordings).\n"
    f"- {share_longer:.1%} of the cycles are longer than 7 s; the longest lasts {durations['max']:.2f} s."))

# %% [markdown]
# ## What to try next
#
# - Point `data_dir` at the annotation files of your own ICBHI download (`respirenet data download` puts them
#   in `data/ICBHI`; the audio is not needed here) and compare the counts with the synthetic set's.
# - Write another synthetic set (`respirenet synth DIR --scale 0.2 --seed 1`) and pass it as `data_dir`: which
#   statistics stay, which move?
# - Listen to several wheezes from different devices: how much does the device change the sound?
# - Next notebook: `02_preprocessing`, from raw recordings to fixed-length 4 kHz cycles.

# %% [markdown]
# Previous: [Glossary and primer](00_glossary.md)
#
# Next: [02 · Pre-processing: from a recording to fixed-length 4 kHz inputs](02_preprocessing.ipynb)
#
# Glossary: [words used in these notebooks](00_glossary.md)
