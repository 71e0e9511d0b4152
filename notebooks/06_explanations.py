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
# # 06 · Where the model looks: Grad-CAM++ explanations
#
# *Words used here are explained in the [glossary](00_glossary.md).*
#
# **Goal:** see which parts of the spectrogram a trained RespireNet relies on, for cycles it classifies
# correctly and for cycles it gets wrong, and repeat the observation that led the paper to blank region
# clipping (§II-A, Fig. 3): a network shown a spectrogram with an empty high-frequency band spends part of
# its attention on that empty band, and stops doing so once the band is clipped away.

# %% tags=["parameters"]
data_dir = None          # an ICBHI folder; None: the model run's own data (or the synthetic default)
profile = "quick"        # smoke | quick | paper: how much to explain (and the profile of a new model)
seed = 0
device = "auto"          # auto | cpu | cuda
precision = "auto"       # auto | fp32 | bf16: of a model trained here; probabilities use the model's own precision
run_dir = None           # the pipeline's run directory: the model in run_dir/train/ and the JSON go here
figures_dir = "figures"
model_run = None         # a training run to explain; None: run_dir/train/official-full-seed<seed>
interactive = True       # build the ipywidgets explorer at the end

# %%
# %matplotlib inline
from IPython.display import Markdown, display

from respirelib.explain import cycles as ex
from respirelib.config import CLASS_NAMES
from respirelib.experiments.notebook import record_numbers, resolve_notebook_data
from respirelib.experiments.run import load_run
from respirelib.explain.figures import plot_blank_band_summary
from respirelib.explain.gradcam import blank_band_in_words
from respirelib.signal.blank_stats import blank_band_fractions, cycle_blank_stats
from respirelib.viz.save import inline_jpeg, save_figure
from respirelib.viz.tables import page_table

# %% [markdown]
# ## Grad-CAM++ in one paragraph
#
# A convolutional network keeps a spatial grid of features up to its last residual block. Grad-CAM
# weighs each feature map of that block by how much the class score changes with it (its gradient) and
# sums them: the result is a coarse map of the regions that raised the score. Grad-CAM++ (Chattopadhyay et
# al., 2018, the paper's reference [21]) weighs the gradients pixel by pixel, which handles several
# separate regions better. Maps here come from the maintained `pytorch-grad-cam` package, are upsampled to
# the image the model saw and are scaled to [0, 1] **per image**: they say *where* a model looks in one
# spectrogram, not how strongly compared with another. Axes are time (s) and frequency (Hz), low
# frequencies at the bottom.
# The maps are computed in float32 even for a model trained in bf16 (the gradients of a bf16 forward pass
# are coarser, and a map is one picture, not a throughput job); the probabilities beside them are computed in
# the precision the model was trained in.
#
# ## The model
#
# With `model_run` set, that run is explained. Otherwise the full model (concatenation augmentation and
# blank region clipping) that notebook 04 trains under `run_dir/train/` is used, and trained here if it is
# missing.

# %%
model_dir = ex.resolve_model_run(model_run, run_dir, data_dir=data_dir, profile=profile, seed=seed,
                                 device=device, precision=precision)
data_path = resolve_notebook_data(data_dir, profile, trained_run=model_dir)
run = load_run(model_dir, data_dir=data_path, device=device)
model = ex.load_model(run)
label = ex.run_label(run)
data_label = run.prepared.dataset.data_label
if run.prepared.dataset.is_synthetic:
    display(Markdown("## ⚠️ SYNTHETIC DATA: these maps explain a model of the synthetic set, not of ICBHI"))
print(f"{label}; the model was trained {'with' if run.profile.stage1.clip_blank else 'without'} "
      f"blank region clipping")

# %% [markdown]
# ## Galleries: right and wrong, per class
#
# For each true class, test cycles the model classified correctly (top row) and wrongly (bottom row),
# drawn at random with `seed`. Each map explains the class the model *predicted*, so a wrong cycle's map
# shows what convinced the model of its mistake. The background is the spectrogram the model saw (clipped
# if the run clips). A long cycle is shown by its first window (the run scores all its windows). Dashed white
# lines mark where the cycle's own audio ends (and, with padding before it, begins): outside them the input is
# padding borrowed from its neighbours, as evaluation pads it.

# %%
per_class = 2 if profile == "smoke" else 3
predictions = ex.run_predictions(run, model=model)
cycles = run.prepared.dataset.cycles
correct = ex.gallery_rows(predictions, cycles, per_class=per_class, correct=True, seed=seed)
wrong = ex.gallery_rows(predictions, cycles, per_class=per_class, correct=False, seed=seed)
print(f"{(predictions['pred'] == predictions['label_id']).mean():.0%} of {len(predictions)} test cycles "
      f"classified correctly ({label})")
for label_id, name in enumerate(CLASS_NAMES):
    fig = ex.class_gallery_figure(run, correct, wrong, label_id, per_class=per_class, model=model)
    save_figure(fig, f"06_gallery_{name}", out_dir=figures_dir, data_label=data_label)
    display(inline_jpeg(fig))  # heat maps: a quarter of the PNG's weight in the notebook

# %% [markdown]
# ## Fig. 3: attention on the blank band, before and after clipping
#
# Some devices record nothing above about 1.5 kHz (the paper: all Litt3200 cycles and about 20% of the
# Meditron ones), which leaves an empty band at the top of the spectrogram and a sharp edge below it. For
# every test cycle whose band above 1.5 kHz is blank (the table's "blank share": the share of a device's
# test cycles whose run of blank rows from the top reaches down to 1.5 kHz, the cycles this experiment can
# use), we compute the map of its true class twice: on the spectrogram as it is, and after blank
# region clipping. The number is the **share of the map's mass in
# the top rows the blank band occupies**, before and after (after clipping those rows hold the stretched
# top of the signal). A uniform map would put the rows' *area share* there. One model sees both inputs:
# with a run trained with clipping the unclipped input is the unfamiliar one; the paper compared a model
# trained without clipping with one trained with it (see "What to try next").

# %%
min_blank_hz = 1500.0  # the paper's "1.5-2 kHz missing"
max_per_device = {"smoke": 6, "quick": 40}.get(profile)  # None (paper): every such cycle
if max_per_device is not None:
    print(f"profile {profile}: at most {max_per_device} cycles with a blank band are explained per device")
summary, per_cycle = ex.blank_band_experiment(run, run.prepared.rows("test"), max_per_device=max_per_device,
                                              seed=seed, model=model, min_blank_hz=min_blank_hz)
FIG3_COLUMNS = {"n_total": "test cycles", "n_blank": "with a blank band", "blank_share": "blank share",
                "n_cycles": "explained", "mass_before": "map mass in band, before", "mass_after": "… after clipping",
                "area_share": "band's area share (uniform map)"}
display(page_table(summary.rename(columns=FIG3_COLUMNS), digits=3,
                   formats={FIG3_COLUMNS[c]: "{:.1%}" for c in ("blank_share", "mass_before", "mass_after",
                                                                "area_share")}))
fig = plot_blank_band_summary(summary, title=f"Grad-CAM++ mass in the blank rows ({label})")
save_figure(fig, "06_fig3_blank_band_attention", out_dir=figures_dir, data_label=data_label)
display(fig)
patients = run.prepared.dataset.cycles.loc[per_cycle["cycle_row"], "patient"].to_numpy() if len(per_cycle) else []
fig3_words = blank_band_in_words(per_cycle, patients, seed=seed)
display(Markdown(fig3_words))
# Notebook 03's statistic on the same test cycles: its Mel rows wholly inside 1.5-2 kHz are blank.
band = blank_band_fractions(cycle_blank_stats(run.prepared.cache, run.prepared.rows("test"), audio=run.profile.audio,
                                              config=run.profile.features))
compare = summary.set_index("device")[["n_total", "blank_share"]].join(
    band["band_blank"].rename("band_blank (notebook 03)"), how="inner")
display(Markdown("The two per-device blank shares measure different things. The blank share above asks whether "
                 "the run of blank rows from the top reaches down to 1.5 kHz, on test cycles; notebook 03's "
                 "\"band blank\" asks whether the Mel rows wholly inside 1.5–2 kHz are blank, and counts all cycles "
                 "(training and test). Both on this run's test cycles, where the cycles counted are the same:"))
display(page_table(compare.rename(columns={"n_total": "test cycles", "blank_share": "blank share (this notebook)",
                                           "band_blank (notebook 03)": "band blank (notebook 03's statistic)"}),
                   formats={"blank share (this notebook)": "{:.1%}", "band blank (notebook 03's statistic)": "{:.1%}"}))

# %% [markdown]
# One cycle, as in the paper's figure: the dashed line marks where the blank band begins before clipping,
# and the same rows after it. The cycle shown is the one whose map put the most mass in its blank band.

# %%
if len(per_cycle):
    example = int(per_cycle.sort_values("mass_before", ascending=False)["cycle_row"].iloc[0])
    fig = ex.clipping_example_figure(run, example, model=model)
    save_figure(fig, "06_fig3_example", out_dir=figures_dir, data_label=data_label)
    display(fig)
else:
    print("no test cycle has a blank band above 1.5 kHz: nothing to show")

# %% [markdown]
# ## Explore any cycle
#
# Pick a part of the split, a device, a class and a cycle: hear it, and see its waveform (the cycle and
# the padding around it), its Mel spectrogram, the clipped spectrogram, the predicted probabilities and
# the Grad-CAM++ overlay. The widgets need a live kernel (JupyterLab or Jupyter Notebook). A headless run
# (`make demo`, papermill) shows the first cycle only, without widgets: papermill's notebook client imitates
# a front end for them in a way that can leave the run waiting forever. The same figure for one cycle from
# a shell: `respirenet explain --run RUN_DIR --cycle RECORDING:CYCLE_INDEX --out cycle.png`.

# %%
if interactive:
    from respirelib.explain.explorer import show_explorer

    show_explorer(run, parts=("test", "val"), model=model)
else:
    print("interactive=False: the explorer was not built")

# %% [markdown]
# ## Record the numbers
#
# The per-device table and the galleries' cycles go to the run directory as JSON.

# %%
record = {"data": run.prepared.dataset.data_label, "synthetic": run.prepared.dataset.is_synthetic,
          "init": run.request["init"], "profile": run.request["profile"], "model_run": str(model_dir),
          "clip_blank_in_training": run.profile.stage1.clip_blank, "part": "test",
          "max_per_device": max_per_device, "min_blank_hz": min_blank_hz,
          "blank_band_attention": summary.to_dict(orient="records"),
          "band_blank_test": band["band_blank"].to_dict(),
          "blank_band_cycles": per_cycle[["recording", "cycle_index", "device", "label_id", "n_blank_rows",
                                          "mass_before", "mass_after"]].to_dict(orient="records"),
          "galleries": {name: {"correct": correct.loc[correct["label_id"] == i, "name"].tolist(),
                               "wrong": wrong.loc[wrong["label_id"] == i, "name"].tolist()}
                        for i, name in enumerate(CLASS_NAMES)}}
written = record_numbers(run_dir, "06_explanations.json", record)

# %% [markdown]
# ## What this run shows
#
# Written from this run's numbers, not by hand.

# %%
accuracy = float((predictions["pred"] == predictions["label_id"]).mean())
lines = [f"- The model classified {accuracy:.0%} of {len(predictions)} test cycles correctly ({label})."]
lines.append(f"- Blank-band attention (Fig. 3): {fig3_words}")
lines += [f"- {device}: {row['blank_share']:.0%} of {int(row['n_total'])} test cycles with a blank band from 1.5 kHz "
          f"up; {row['band_blank (notebook 03)']:.0%} by notebook 03's statistic."
          for device, row in compare.iterrows() if device != "all" and row["n_total"] > 0]
display(Markdown("\n".join(lines)))

# %% [markdown]
# ## What to try next
#
# - Train a model **without** blank region clipping (`respirenet train --no-clip ...`) and pass it as
#   `model_run`: that is the paper's "before". Does it put more of its map in the blank band than the
#   clipped model does?
# - Explain an earlier layer: `ex.explain_cycles(run, rows, layer="backbone.layer3")` gives finer maps.
# - Compare the maps of the fine-tuned device models (`run_dir/.../stage2/<device>/checkpoints/best.pt`,
#   loaded with `ex.load_model(run, path)`) with the stage-1 model's on the same Litt3200 cycles.
# - Do crackle maps pick out short broadband clicks and wheeze maps horizontal tones? Look in the
#   galleries and the explorer.

# %% [markdown]
# Previous: [05 · Device-specific fine-tuning (stage 2) and Table III](05_device_finetuning.ipynb)
#
# Next: [07 · Results: this run next to the paper](07_results.ipynb)
#
# Glossary: [words used in these notebooks](00_glossary.md)
