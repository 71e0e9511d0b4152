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
# # 03 · Augmentation and blank region clipping
#
# *Words used here are explained in the [glossary](00_glossary.md).*
#
# **Goal:** see how RespireNet gets more out of a small dataset (Gairola et al., 2021, §II-A): new abnormal
# samples made by joining two cycles of a class (concatenation-based augmentation, Fig. 2), standard audio
# augmentations, a class-balanced sampler, and blank region clipping of empty high-frequency bands (Fig. 3),
# with how often each recording device leaves such a band.

# %% tags=["parameters"]
data_dir = None          # an ICBHI folder with audio; None: the profile's synthetic set, written on first use
profile = "quick"        # smoke | quick | paper: the input length, the feature settings and the synthetic default
seed = 0
device = "auto"          # unused here; kept so every notebook takes the same parameters
run_dir = None           # where numbers are written as JSON; None: not written
figures_dir = "figures"  # where figures are saved

# %%
# %matplotlib inline
from dataclasses import replace

import numpy as np
import pandas as pd
import torch
from IPython.display import Audio, Markdown, display

from respirelib.signal.augment import augment_batch, class_balanced_sampler
from respirelib.signal.blank_stats import blank_band_fractions, cycle_blank_stats
from respirelib.signal.clipping import blank_rows, blank_rows_batch
from respirelib.signal.cache import build_cycle_cache
from respirelib.signal.concat import concatenate_augment
from respirelib.config import CLASS_NAMES, WAVEFORM_AUGMENTATIONS
from respirelib.errors import DataError
from respirelib.experiments.notebook import record_numbers, resolve_notebook_data
from respirelib.signal.features import TorchMelFrontend, log_mel
from respirelib.signal.frontend import FeatureFrontend
from respirelib.explain.cycles import cycle_name
from respirelib.data.icbhi import load_icbhi
from respirelib.signal.padding import pad_to_length
from respirelib.training.profiles import get_profile
from respirelib.signal.samples import evaluation_set
from respirelib.viz import signal as viz
from respirelib.viz.save import save_figure
from respirelib.viz.tables import page_table


def show(fig, name):
    """Save a figure under figures_dir (stamped when the data are synthetic) and display it."""
    save_figure(fig, name, out_dir=figures_dir, data_label=label)
    display(fig)


def listen(y, sr):
    """A player at the signal's true level (IPython would rescale every clip to full scale)."""
    return Audio(np.clip(y, -1, 1), rate=sr, normalize=False)


# %% [markdown]
# ## The pre-processed training cycles
#
# Every cycle, resampled, band-passed and normalised as in notebook 02, comes from the cycle cache (built
# once, then loaded in a moment). Augmentation only ever touches **training** cycles: here the official
# split's training part.

# %%
data_path = resolve_notebook_data(data_dir, profile)
dataset = load_icbhi(data_path, errors="skip")
label = dataset.data_label
settings = get_profile(profile)
audio, features, augment = settings.audio, settings.features, settings.augment
if not dataset.has_audio:
    raise DataError(data_path, "notebook 03 needs the .wav files; this folder holds annotations only")
if dataset.is_synthetic:
    display(Markdown("## ⚠️ SYNTHETIC DATA: every sound and number below comes from the synthetic set"))
cache = build_cycle_cache(dataset, config=audio)
sr = cache.sr
in_train = (dataset.cycles["split"] == "train").to_numpy()
train_rows = dataset.cycles.index.to_numpy()[in_train if in_train.any() else slice(None)]
train_labels = dataset.cycles.loc[train_rows, "label_id"].to_numpy()
train_cycles = [cache.cycle(row) for row in train_rows]
print(f"{len(train_rows)} training cycles of {len(dataset.cycles)} ({label} data; the paper's ICBHI has 6898), "
      f"cache {cache.path.name}")

# %% [markdown]
# ## Concatenation-based augmentation (Fig. 2)
#
# "We generate a new sample of a class by randomly sampling two samples of the same class and concatenating
# them" (§II-A). Each class is brought up to `concat_scale` × the number of normal cycles, so with the
# default scale of 1 only the abnormal classes grow. The new sample is then padded or windowed like any cycle.
# **Departure:** the reference code mixes classes (a crackle sample may be crackle + normal, a *both* sample
# crackle + wheeze); that recipe is `AugmentConfig(concat_scheme="reference")`. We follow the paper's text.

# %%
new_cycles, new_labels, provenance = concatenate_augment(
    train_cycles, train_labels, scheme=augment.concat_scheme, scale=augment.concat_scale,
    rng=np.random.default_rng(seed))
print(f"{len(new_cycles)} new samples ({augment.concat_scheme} scheme)")
concat_example = None
if len(new_cycles):
    k = int(np.argmax(new_labels == 1)) if (new_labels == 1).any() else 0
    first, second = (int(i) for i in provenance[k])
    names = tuple(f"{CLASS_NAMES[train_labels[i]]}: {dataset.cycles.loc[train_rows[i], 'recording']}"
                  for i in (first, second))
    show(viz.plot_concatenation(train_cycles[first], train_cycles[second], sr=sr, config=features, names=names),
         "03_concatenation")
    concat_example = {"class": CLASS_NAMES[new_labels[k]], "seconds": len(new_cycles[k]) / sr,
                      "parts": [int(train_rows[first]), int(train_rows[second])]}
    display(listen(pad_to_length(new_cycles[k], sr=sr, duration=audio.cycle_duration), sr))

# %% [markdown]
# ## Class balance before and after
#
# Concatenation evens out the classes of the training set with *new* samples. The paper also uses a
# weighted random sampler (§II-A; the reference weights each sample by one over its class's count), which
# draws every class equally often in each epoch; on its own it does so by drawing the same few rare cycles
# again and again. The third group is one epoch of that sampler over the original training cycles.

# %%
all_labels = np.concatenate([train_labels, new_labels])
drawn = np.fromiter(class_balanced_sampler(train_labels, seed=seed), dtype=np.int64)
balance = {
    "training cycles": np.bincount(train_labels, minlength=len(CLASS_NAMES)),
    "+ concatenation": np.bincount(all_labels, minlength=len(CLASS_NAMES)),
    "weighted sampler alone, one epoch": np.bincount(train_labels[drawn], minlength=len(CLASS_NAMES)),
}
for c, name in enumerate(CLASS_NAMES):
    in_class = drawn[train_labels[drawn] == c]
    print(f"sampler, {name}: {len(in_class)} draws of {len(np.unique(in_class))} distinct cycles")
show(viz.plot_class_balance(balance, title=f"Training samples per class ({label} data)"), "03_class_balance")

# %% [markdown]
# ## Standard augmentations, heard and seen
#
# The paper lists noise addition, speed variation, random shifting and pitch shift (§II-A) without settings.
# As in the reference code, each training sample receives, with probability 0.5, *one* of noise, speed,
# loudness or pitch, and independently, with probability 0.5, a random circular shift. Below, one input
# receives each of them alone, through the same batched `augment_batch` used in training (parameters drawn
# from the ranges of `AugmentConfig`). **Departure:** the reference's fifth augmentation, VTLP (vocal-tract
# length perturbation, a speech technique), is left out; the others run on whole batches in torch
# instead of one clip at a time in nlpaug.

# %%
wheezes = train_rows[train_labels == 2]
row = int(np.random.default_rng(seed).choice(wheezes if len(wheezes) else train_rows))
wave = evaluation_set(cache, [row], config=audio).waves[:1]
alone = {name: replace(augment, p_waveform=1.0, p_shift=0.0,
                       **{f"{other}_weight": float(other == name) for other in WAVEFORM_AUGMENTATIONS})
         for name in WAVEFORM_AUGMENTATIONS}
alone["circular shift"] = replace(augment, p_waveform=0.0, p_shift=1.0)
variants = {"original": wave[0].numpy()}
for name, config in alone.items():
    generator = torch.Generator().manual_seed(seed)
    variants[name] = augment_batch(wave, sr=sr, config=config, generator=generator)[0].numpy()
title = f"one {CLASS_NAMES[dataset.cycles.loc[row, 'label_id']]} input, each augmentation alone ({label} data)"
show(viz.plot_spectrogram_grid({name: log_mel(v, sr=sr, config=features) for name, v in variants.items()},
                               config=features, title=title), "03_augmentations")
for name, v in variants.items():
    display(Markdown(f"**{name}**"), listen(v, sr))

# %% [markdown]
# ## How often is the 1.5–2 kHz band blank?
#
# The paper found "many samples had blank region in the 1.5–2 kHz frequency range (e.g., 20% of samples from
# the Meditron device …, while all Litt3200 device samples had the same 1.5–2 kHz frequency missing)". We
# measure it on every cycle's fixed-length input. A value below 10/255 of the scaled spectrogram is blank, a
# Mel row is blank when 80% of its values are (the reference's rule), and the band is blank when the Mel
# rows lying wholly inside 1.5–2 kHz are (`row_fraction` of them; 1 = all). The second measure is what
# clipping acts on: at least one blank row at the very top.
#
# A caveat worth knowing: the 64 ms window's side lobes spread energy about 200 Hz above a sharp
# cut-off, so on a device that stops *exactly* at 1.5 kHz the lowest rows of the band are not blank.
# The synthetic devices roll off to zero *at* 1.5 kHz, so `row_fraction = 1` counts them; on real data,
# try `row_fraction = 0.8` if a band-limited device scores near zero. These shares count **all** cycles,
# training and test; notebook 06 counts test cycles only, with its own criterion, and says how the two compare.

# %%
row_fraction = 1.0
stats = cycle_blank_stats(cache, audio=audio, config=features, row_fraction=row_fraction)
fractions = blank_band_fractions(stats)
paper_shares = {"Litt3200": 1.0, "Meditron": 0.2}
display(page_table(fractions.rename(columns={"band_blank": "band blank", "clipped": "clipped (top row blank)",
                                             "mean_blank_rows": "mean blank rows"}),
                   formats={"band blank": "{:.1%}", "clipped (top row blank)": "{:.1%}",
                            "mean blank rows": "{:.1f}"}))
show(viz.plot_blank_fractions(fractions, paper=paper_shares,
                              title=f"Cycles with a blank high band, per device ({label} data)"),
     "03_blank_fraction_per_device")

# %% [markdown]
# ## Blank region clipping (Fig. 3)
#
# A blank band ends in a sharp horizontal edge, and the first layers of a CNN respond to edges. Blank region
# clipping cuts the blank rows from the top and stretches what is left back to the full height; a
# spectrogram without a blank band is left exactly as it is (§II-A). Below: the cycle with the most blank
# rows in the table above (its input exactly as that table measured it), before and after. **Departures:**
# the reference thresholds the grey level of the coloured, resized
# image and always removes at least one row (an off-by-one); we threshold the scaled spectrogram before
# the image is made, and remove nothing when nothing is blank (`reference_off_by_one=True` reproduces it).

# %%
# Figures show the min-max scale (the paper's images), and the paper's blank rule, whatever this profile uses.
paper_level = replace(features, scaling="minmax", image_mode="colormap", blank_level="floor")
clipping_example = None
if stats["blank_rows"].max() > 0:
    blank_row = stats["blank_rows"].idxmax()
    # The same inputs and spectrograms as the table: the whole recording's cycles (padding borrows from
    # neighbours), the batched front end, and the window with the fewest blank rows (the cycle's count).
    same_recording = stats.index[stats["recording"] == stats.loc[blank_row, "recording"]].to_numpy()
    samples = evaluation_set(cache, same_recording, config=audio)
    windows = np.flatnonzero(samples.cycle_rows == blank_row)
    with torch.inference_mode():
        specs = TorchMelFrontend(paper_level)(samples.waves[windows])
    spec = specs[int(blank_rows_batch(specs).argmin())].numpy()
    show(viz.plot_clipping(spec, config=paper_level, title=f"the cycle with the most blank rows: "
                                                         f"{stats.loc[blank_row, 'recording']} "
                                                         f"({stats.loc[blank_row, 'device']}, {label} data)"),
         "03_blank_region_clipping")
    clipping_example = {"row": int(blank_row), "device": stats.loc[blank_row, "device"],
                        "blank_rows": int(stats.loc[blank_row, "blank_rows"]),
                        "blank_rows_shown": int(blank_rows(spec))}
    display(Markdown(f"{clipping_example['blank_rows']} blank rows, the most of any cycle here (the "
                     f"{clipping_example['device']} mean is "
                     f"{fractions.loc[clipping_example['device'], 'mean_blank_rows']:.1f})."))
else:
    print("No cycle in this data has a blank band at the top: clipping changes nothing here.")

# %% [markdown]
# ## How much this profile clips: the blank level
#
# The paper's blank region is a band where "the audio signal has zero energy" (§II-A, footnote 4), and the
# rule above cuts only such rows. `FeatureConfig.blank_level` says what counts as blank: `"floor"` is the
# paper's; `"mean"` reads the same threshold on the *standardised* spectrogram, so a row also counts when 80 %
# of its cells are quieter than the spectrogram's mean level. That cuts a quiet top band as well as an empty
# one and stretches the louder rest to the full height: each input is zoomed onto the band that holds its
# sound. **Departure:** the `quick` profile uses `"mean"` (`paper` keeps `"floor"`). Trained on the
# synthetic set over ten seeds, the quick profile with it (on standardised grey images) scored higher and its
# seeds agreed more closely than with the paper's level (README, "Choosing the quick profile", fifth round);
# it has not been measured on real ICBHI.
# Below: rows cut from a sample of this data's inputs at each level, per device, then one input at this
# profile's level.

# %%
sample_rows = np.sort(np.random.default_rng(0).choice(stats.index.to_numpy(), size=min(400, len(stats)),
                                                      replace=False))
sample_inputs = evaluation_set(cache, sample_rows, config=audio)
cut_by_level = {level: FeatureFrontend(replace(features, blank_level=level)).blank_cut(sample_inputs.waves).numpy()
                for level in ("floor", "mean")}
levels = (pd.DataFrame({"device": sample_inputs.devices, **cut_by_level})
          .groupby("device")[["floor", "mean"]].mean()
          .rename(columns={"floor": "rows cut, paper's level (floor)", "mean": "rows cut, mean level"}))
display(page_table(levels, formats={column: "{:.1f}" for column in levels.columns}))
quiet = int(np.argmax(cut_by_level["mean"] - cut_by_level["floor"]))
quiet_name = cycle_name(dataset.cycles, int(sample_inputs.cycle_rows[quiet]))
with torch.inference_mode():
    quiet_spec = TorchMelFrontend(paper_level)(sample_inputs.waves[quiet:quiet + 1])[0]
show(viz.plot_clipping(quiet_spec.numpy(), config=replace(paper_level, blank_level="mean"),
                       title=f"one input at the mean level: {quiet_name} "
                             f"({sample_inputs.devices[quiet]}, {label} data)"), "03_mean_level_clipping")
print(f"this profile ({profile}) clips at the {features.blank_level!r} level")

# %% [markdown]
# ## Record the numbers
#
# Class balance before and after, the concatenation example and the per-device blank-band shares go to the
# run directory as JSON.

# %%
numbers = {
    "data": label, "profile": profile, "train_cycles": len(train_rows),
    "class_balance": {scheme: dict(zip(CLASS_NAMES, map(int, counts))) for scheme, counts in balance.items()},
    "concatenation": {"scheme": augment.concat_scheme, "scale": augment.concat_scale,
                      "new_samples": len(new_cycles), "example": concat_example},
    "augmentations": list(alone),
    "blank_level": {"profile": features.blank_level, "sampled_inputs": len(sample_rows),
                    "mean_rows_cut": {level: float(cuts.mean()) for level, cuts in cut_by_level.items()}},
    "blank_regions": {"row_fraction": row_fraction, "paper": paper_shares, "example": clipping_example,
                      "per_device": {device: {"cycles": int(r["cycles"]), "band_blank": float(r["band_blank"]),
                                              "clipped": float(r["clipped"]),
                                              "mean_blank_rows": float(r["mean_blank_rows"])}
                                     for device, r in fractions.iterrows()}},
}
written = record_numbers(run_dir, "03_augmentation.json", numbers)

# %% [markdown]
# ## What this run shows
#
# Written from this run's numbers, not by hand.

# %%
before, after = balance["training cycles"], balance["+ concatenation"]
rarest = int(np.argmin(before))
rare_draws = drawn[train_labels[drawn] == rarest]
lines = [f"- Concatenation added {len(new_cycles)} samples: *{CLASS_NAMES[rarest]}* grew from {before[rarest]} "
         f"to {after[rarest]} training samples, normal stayed at {before[0]}.",
         f"- The weighted sampler alone drew *{CLASS_NAMES[rarest]}* {len(rare_draws)} times in one epoch, from "
         f"only {len(np.unique(rare_draws))} distinct cycles."]
for device, share in paper_shares.items():
    if device in fractions.index:
        row = fractions.loc[device]
        lines.append(f"- {device}: {row['band_blank']:.0%} of its {int(row['cycles'])} cycles have a blank "
                     f"1.5–2 kHz band (the paper: {share:.0%} on ICBHI).")
if clipping_example is not None:
    lines.append(f"- Clipping cut {clipping_example['blank_rows']} of {features.n_mels} rows from the most blank "
                 "cycle.")
mean_cut, floor_cut = cut_by_level["mean"].mean(), cut_by_level["floor"].mean()
lines.append(f"- Over {len(sample_rows)} sampled inputs the paper's level cut {floor_cut:.1f} of {features.n_mels} "
             f"rows on average and the mean level {mean_cut:.1f}; this profile ({profile}) clips at the "
             f"{features.blank_level!r} level.")
display(Markdown("\n".join(lines)))

# %% [markdown]
# ## What to try next
#
# - Set `augment = replace(augment, concat_scheme="reference")` and compare the new samples' class mixes.
# - Raise `concat_scale` to 2: normal grows too. How does the sampler's epoch change?
# - Listen to the pitch shift at +3 semitones: does a wheeze still sound like a wheeze?
# - Train the quick profile at the paper's blank level beside its own, five seeds each:
#   `respirenet bench quick --seeds 0 1 2 3 4 --candidate quick='{}' --candidate floor='{"features":
#   {"blank_level": "floor"}}'`. Do the seeds agree as closely?
# - Lower `row_fraction`, or move the band's lower edge (`cycle_blank_stats(..., low_hz=1600)`), and watch
#   the per-device shares.
# - Next: notebook 04, where these pieces feed the network during training.

# %% [markdown]
# Previous: [02 · Pre-processing: from a recording to fixed-length 4 kHz inputs](02_preprocessing.ipynb)
#
# Next: [04 · Training RespireNet (stage 1) and the ablation of Table I](04_training.ipynb)
#
# Glossary: [words used in these notebooks](00_glossary.md)
