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
# # 02 · Pre-processing: from a recording to fixed-length 4 kHz inputs
#
# *Words used here are explained in the [glossary](00_glossary.md).*
#
# **Goal:** follow one recording through every step RespireNet applies before the network sees it
# (Gairola et al., 2021, §II "Pre-processing" and §II-A "Smart Padding"): resample to 4 kHz, band-pass 50–2000 Hz,
# normalise to (−1, 1), cut into breathing cycles and bring each cycle to a fixed length. Each step is shown,
# heard and compared with what `respirelib` does in one call.

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

import librosa
import numpy as np
from IPython.display import Audio, Markdown, display

from respirelib.data.audio import read_audio
from respirelib.errors import DataError
from respirelib.experiments.notebook import record_numbers, resolve_notebook_data
from respirelib.signal.features import image_from_signal, log_mel
from respirelib.data.icbhi import load_icbhi
from respirelib.signal.leakage import padding_example
from respirelib.signal.padding import pad_cycle, window_starts
from respirelib.signal.preprocess import (extract_cycles, filter_sos, normalize_peak, player_clip,
                                          preprocess_recording, zero_phase_response)
from respirelib.training.profiles import get_profile
from respirelib.viz import signal as viz
from respirelib.viz.save import save_figure


def show(fig, name):
    """Save a figure under figures_dir (stamped when the data are synthetic) and display it."""
    save_figure(fig, name, out_dir=figures_dir, data_label=label)
    display(fig)


def listen(y, sr, *, target_sr=4000, max_seconds=None):
    """A player at a fixed gain (IPython would rescale every clip to full scale), at 4 kHz unless told."""
    clip, rate = player_clip(y, sr=sr, target_sr=target_sr, max_seconds=max_seconds)
    return Audio(clip, rate=rate, normalize=False)


# %% [markdown]
# ## One recording
#
# The settings come from the profile: `audio` holds the paper's pre-processing (4 kHz, 50–2000 Hz,
# order 5, peak normalisation) and the input length (7 s, Table II; the `smoke` profile uses 3 s to stay
# fast), `features` the Mel spectrogram. We pick a short abnormal cycle from a recording with the highest
# sample rate in the data (44.1 kHz in ICBHI) whose next cycle smart padding may borrow and whose smart and
# context padding differ (one neighbour fails smart padding's class test), so that every step has something
# to do. The players play at a fixed gain, never rescaling a clip to full scale (IPython's default), so
# "normalise" sounds louder than the step before; all but the raw recording play at 4 kHz, the rate the model
# hears, and the whole-recording players play its first seconds only, which keeps this notebook small.

# %%
data_path = resolve_notebook_data(data_dir, profile)
dataset = load_icbhi(data_path, errors="skip")
label = dataset.data_label
settings = get_profile(profile)
audio, features = settings.audio, settings.features
if not dataset.has_audio:
    raise DataError(data_path, "notebook 02 needs the .wav files; this folder holds annotations only")
if dataset.is_synthetic:
    display(Markdown("## ⚠️ SYNTHETIC DATA: every sound and number below comes from the synthetic set"))

recordings = dataset.recordings.set_index("recording")
ordered = dataset.cycles.sort_values(["recording", "cycle_index"])
example = padding_example(dataset.cycles, recordings["sample_rate"], sr=audio.sample_rate,
                          duration=audio.cycle_duration, reach=audio.smart_reach, seed=seed)
recording = recordings.loc[example["recording"]]
print(f"{example['recording']} ({recording['device']}, {int(recording['sample_rate'])} Hz, "
      f"{recording['audio_duration']:.1f} s, {label} data); example: cycle {example['cycle_index']} "
      f"({example['label']}, {example['duration']:.2f} s)")

# %% [markdown]
# ## Step 1 · The raw recording
#
# As stored: one channel at the device's own rate. ICBHI mixes 4 kHz, 10 kHz and 44.1 kHz files, and the
# level differs from device to device.

# %%
y_raw, sr_raw = read_audio(recording["audio_path"])
show(viz.plot_waveform(y_raw, sr=sr_raw, title=f"raw: {example['recording']} at {sr_raw} Hz ({label} data)"),
     "02_step1_raw")
display(Markdown("the first 2 s, at the recording's own rate and level"),
        listen(y_raw, sr_raw, target_sr=sr_raw, max_seconds=2.0))

# %% [markdown]
# ## Step 2 · Resample to 4 kHz
#
# The paper down-samples every recording to 4 kHz (§II), so all devices share one rate and the spectrogram
# covers 0–2 kHz, where wheezes and crackles live. We use soxr's high-quality resampler (`soxr_hq`, as
# `librosa.resample`); its anti-alias filter removes everything above about 1.9 kHz. A 4 kHz recording is
# left as it is.

# %%
y_4k = (librosa.resample(y_raw, orig_sr=sr_raw, target_sr=audio.sample_rate, res_type=audio.resample_type)
        if sr_raw != audio.sample_rate else y_raw)
sr = audio.sample_rate
show(viz.plot_waveform(y_4k, sr=sr, title=f"resampled to {sr} Hz ({label} data)"), "02_step2_resampled")
display(listen(y_4k, sr, max_seconds=3.0))

# %% [markdown]
# ## Step 3 · Band-pass 50–2000 Hz
#
# The paper applies a 5th-order Butterworth band-pass of 50–2000 Hz to remove heartbeat and other low
# rumble. **Departure, and why:** at 4 kHz the upper edge *is* the Nyquist frequency, where a digital
# Butterworth edge cannot be designed; the resampler of step 2 already band-limits the signal there. So
# `respirelib` resamples first and then applies the 50 Hz high-pass, zero-phase (forwards and backwards, so
# cycle boundaries do not shift), with its edge moved so that the *applied* response is −3 dB at 50 Hz. The
# reference code defines a band-pass but never calls it. The dashed curve measures the whole chain
# (resampler + filter) on an impulse.

# %%
show(viz.plot_filter_response(audio, orig_sr=int(sr_raw) if sr_raw != sr else 44100), "02_step3_filter_response")
check_hz = np.array([audio.low_hz / 2, audio.low_hz, 2 * audio.low_hz, 1000.0])
gain_db = 20 * np.log10(zero_phase_response(filter_sos(audio), sr=sr, freqs=check_hz))
print("applied gain:", ", ".join(f"{f:g} Hz {g:+.1f} dB" for f, g in zip(check_hz, gain_db)))
filtered = preprocess_recording(y_raw, sr=sr_raw, config=replace(audio, normalize=False))

# %% [markdown]
# ## Step 4 · Normalise to (−1, 1)
#
# Devices record at very different levels; the paper maps every signal into (−1, 1). We divide the *whole
# recording* by its peak (not each cycle), so quiet and loud cycles of one recording keep their relation.
# The result must equal `preprocess_recording`, the one call the cycle cache uses.

# %%
y = normalize_peak(filtered)
one_call = preprocess_recording(y_raw, sr=sr_raw, config=audio)
max_difference = float(np.max(np.abs(y - one_call)))
print(f"peak {np.max(np.abs(y)):.3f}; largest difference from preprocess_recording: {max_difference:.2e}")
show(viz.plot_waveform(y, sr=sr, title=f"band-passed and normalised, {sr} Hz ({label} data)"),
     "02_step4_normalised")
display(listen(y, sr, max_seconds=3.0))

# %% [markdown]
# ## The spectrogram before and after
#
# Left as recorded (0 Hz to the device's Nyquist frequency, on a Mel axis labelled in Hz so that the 0–2 kHz
# the model keeps is not a sliver), then after pre-processing, as the network's Mel spectrogram sees it
# (64 Mel bands, 50–2000 Hz, 64 ms windows with a 32 ms hop: the reference implementation's settings, as the
# paper gives none). Energy above 2 kHz and below 50 Hz is gone; what remains fills the whole image. The
# colour is the level in dB (at most 80 dB below the loudest cell), scaled per spectrogram as the profile's
# network input is, and the colour bar says how: to 0–1 for the paper's colormap images (1: the loudest
# cell), or standardised (0: the spectrogram's mean level, in standard deviations) where a profile sets
# `scaling="standard"`, as `quick` does (**departure**: its narrow network starts from random weights, so the
# colormap that imitates an ImageNet photograph buys it nothing; README, "Choosing the quick profile").

# %%
raw_view = replace(features, sample_rate=int(sr_raw), n_mels=128, fmin=0.0, fmax=sr_raw / 2,
                   n_fft=int(round(features.n_fft * sr_raw / sr)),
                   hop_length=int(round(features.hop_length * sr_raw / sr)))
show(viz.plot_spectrogram(log_mel(y_raw, sr=sr_raw, config=raw_view), config=raw_view,
                          title=f"before: as recorded at {sr_raw} Hz ({label} data)", mel_axis=True),
     "02_spectrogram_before")
show(viz.plot_spectrogram(log_mel(y, sr=sr, config=features), config=features,
                          title=f"after: 4 kHz, band-passed, normalised ({label} data)"), "02_spectrogram_after")

# %% [markdown]
# ## Cycles and fixed-length inputs: four padding strategies
#
# The network takes one fixed length (7 s, the best in Table II; the reference code uses 8 s). A shorter
# cycle must be padded. The paper compares *zero* padding, *reflection*, and its **smart padding**: borrow
# the neighbouring cycle of the same recording when it is of the same class or normal, otherwise repeat the
# cycle (§II-A; §III reports a 5 % and a 2 % gain over zero and reflection padding). **Context padding** is
# smart padding without the class test: it borrows the neighbours whatever their class, which is all that
# can be done on a new recording nobody has labelled. The cycles are cut from the pre-processed recording,
# so the filter saw the whole signal. The shading shows where each part of the padded input comes from.

# %%
cycle_table = ordered[ordered["recording"] == example["recording"]]
cycles = extract_cycles(y, sr=sr, starts=cycle_table["start"], ends=cycle_table["end"])
labels = cycle_table["label_id"].to_numpy()
index = int(np.flatnonzero(cycle_table["cycle_index"].to_numpy() == example["cycle_index"])[0])
methods = ("zero", "reflect", "smart", "context")
show(viz.plot_padding_strategies(cycles, labels, index, sr=sr, duration=audio.cycle_duration, methods=methods,
                                 reach=audio.smart_reach), "02_padding_strategies")
inputs, padding_sources = {}, {}
for method in methods:
    inputs[method], sources = pad_cycle(cycles, labels, index, sr=sr, duration=audio.cycle_duration, method=method,
                                reach=audio.smart_reach, return_sources=True)
    padding_sources[method] = {"own": float(np.mean(sources == index)), "zeros": float(np.mean(sources < 0)),
                               "neighbours": float(np.mean((sources >= 0) & (sources != index)))}
    display(Markdown(f"**{method} padding**"), listen(inputs[method], sr))
smart_differs = not np.array_equal(inputs["smart"], inputs["context"])
display(Markdown(f"Smart and context padding {'differ' if smart_differs else 'agree'} for this cycle: "
                 + ", ".join(f"{method} takes {shares['neighbours']:.0%} of its input from neighbours"
                             for method, shares in padding_sources.items() if method in ("smart", "context"))
                 + "."))

# %% [markdown]
# ## Padding at evaluation: no label may choose the input
#
# Smart padding decides from the *labels* which neighbours a cycle may borrow. During training that is
# fine: the training labels are known. At evaluation it is not: a test cycle's input would then depend on
# its own true class and on its neighbours', so the test labels shape what the model is shown, and a
# user's new recording, which has no labels, would be padded differently from the test set the score came
# from. **Departure from the paper:** here every validation, test and prediction input is padded without
# labels (`eval_padding="context"` by default; `repeat`, `zero` and `reflect` are the other choices), and the
# paper's label-aware version survives only as a diagnostic named `label-aware-diagnostic`, whose outputs
# say that they read the test labels. Notebook 07's optimism table shows what it does to the score.
#
# How often does it matter? Counted from the annotation files alone (no audio needed): the short test
# cycles whose label-aware input differs from the label-free one, and the short normal test cycles whose
# label-free input carries the sound of an abnormal neighbour that label-aware padding would have hidden.
# First on this notebook's data, then, where the data are not ICBHI, from the record of the real ICBHI
# annotations shipped in `results/padding_leak_icbhi.json` (written by `tools/padding_leak_record.py` from
# the annotation files; it names its commit and date).

# %%
import json

from respirelib.runs import REPO_ROOT
from respirelib.signal.leakage import padding_leak_in_words, padding_leak_summary

leak = padding_leak_summary(dataset.cycles, part="test", sr=sr, duration=audio.cycle_duration,
                            reach=audio.smart_reach)
leak_label = f"this notebook's {label} annotations"
display(Markdown(padding_leak_in_words(leak, source=leak_label)))
recorded_leak = {}
leak_record = REPO_ROOT / "results" / "padding_leak_icbhi.json"
if dataset.is_synthetic and leak_record.is_file():
    record = json.loads(leak_record.read_text())
    for seconds in dict.fromkeys([f"{audio.cycle_duration:g}", "7"]):
        recorded_leak[seconds] = record["by_duration"][seconds]
        display(Markdown(padding_leak_in_words(recorded_leak[seconds], source="the real ICBHI annotations")
                         + f" (Recorded by `{record['tool']}` at commit {record['commit'][:10]} on "
                         f"{record['made'][:10]}.)"))

# %% [markdown]
# ## Cycles longer than the input
#
# A longer cycle is not truncated: it becomes overlapping windows (hop: half the input length, as in the
# reference), and at evaluation their predictions are averaged per cycle. **Departure:** where the last
# regular window would miss the cycle's end, one more window ends exactly there; the reference pads the
# remainder instead, so its last window is mostly copied audio.

# %%
n_target, hop = audio.n_samples, int(round(audio.window_hop * audio.n_samples))
long_durations = ordered.loc[ordered["duration"] > audio.cycle_duration, "duration"]
long_windows = sum(len(window_starts(int(round(d * sr)), n_target=n_target, hop=hop)) for d in long_durations)
print(f"{len(long_durations)} of {len(ordered)} cycles are longer than {audio.cycle_duration:g} s; "
      f"they give {long_windows} windows")
image = image_from_signal(inputs["smart"], sr=sr, config=features)
print(f"one input: {len(inputs['smart'])} samples -> Mel spectrogram "
      f"{log_mel(inputs['smart'], sr=sr, config=features).shape} "
      f"-> image {image.shape} (channels, height, width) for the CNN")

# %% [markdown]
# ## Record the numbers
#
# The checks above go to the run directory as JSON.

# %%
numbers = {
    "data": label, "profile": profile, "recording": example["recording"], "device": recording["device"],
    "sample_rate_raw": int(sr_raw), "samples_raw": len(y_raw), "samples_4k": len(y),
    "peak_after": float(np.max(np.abs(y))), "max_difference_from_one_call": max_difference,
    "filter_gain_db": {f"{f:g}": float(g) for f, g in zip(check_hz, gain_db)},
    "example_cycle": {"index": int(example["cycle_index"]), "label": example["label"],
                      "duration": float(example["duration"])},
    "input_seconds": audio.cycle_duration, "padding_sources": padding_sources,
    "long_cycles": len(long_durations), "long_cycle_windows": int(long_windows),
    "padding_leak": {"source": leak_label, **leak}, "padding_leak_recorded_icbhi": recorded_leak,
    "smart_differs_from_context": smart_differs,
    "image_shape": list(image.shape),
}
written = record_numbers(run_dir, "02_preprocessing.json", numbers)

# %% [markdown]
# ## What this run shows
#
# Written from this run's numbers, not by hand.

# %%
display(Markdown(
    f"- Resampling {sr_raw} Hz → {sr} Hz kept {len(y)} of {len(y_raw)} samples; the applied filter is "
    f"{gain_db[1]:+.1f} dB at {check_hz[1]:g} Hz and {gain_db[-1]:+.1f} dB at {check_hz[-1]:g} Hz.\n"
    f"- The step-by-step chain equals `preprocess_recording` to within {max_difference:.1e} (peak "
    f"{numbers['peak_after']:.3f}).\n"
    f"- For cycle {example['cycle_index']} ({example['label']}, {example['duration']:.2f} s), smart padding "
    f"takes {padding_sources['smart']['neighbours']:.0%} of the {audio.cycle_duration:g} s input from neighbours "
    f"and context padding {padding_sources['context']['neighbours']:.0%}: the two inputs "
    f"{'differ' if smart_differs else 'are the same'}.\n"
    f"- On this data, label-aware padding would change "
    + (f"{leak['share_differs']:.1%} of the short test inputs.\n" if leak["share_differs"] is not None
       else "no test input: none of its test cycles is shorter than the input.\n") +
    f"- {len(long_durations)} of {len(ordered)} cycles are longer than {audio.cycle_duration:g} s and give "
    f"{long_windows} windows."))

# %% [markdown]
# ## What to try next
#
# - Pick a 4 kHz recording (a Meditron or Litt3200 one): which steps change nothing?
# - Add `"repeat"` to `methods`, the reference code's padding (copies of the cycle itself), and listen.
# - Count the padding leak on the 80/20 split or for 5 s inputs: `padding_leak_summary(..., duration=5.0)`.
# - Set `audio = replace(audio, high_hz=1800)` to add a real low-pass stage and compare the filter curves.
# - Next notebook: `03_augmentation`, making more and more varied training samples.

# %% [markdown]
# Previous: [01 · The ICBHI 2017 dataset](01_dataset_analysis.ipynb)
#
# Next: [03 · Augmentation and blank region clipping](03_augmentation.ipynb)
#
# Glossary: [words used in these notebooks](00_glossary.md)
