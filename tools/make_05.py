"""Writes notebooks/05_device_finetuning.ipynb."""

from pathlib import Path

from nbbuild import code, md, write

cells = [
    md("""
    # 05 · Device-specific fine-tuning (stage 2) and Table III

    **Goal:** start from the stage-1 model chosen on validation, make one copy per recording device,
    fine-tune each copy on that device's training cycles (paper §III-D: lr 1e-4, 50 epochs), and score each
    test cycle with its own device's model. The paper reports the largest gains for the two Littmann
    stethoscopes, the devices with the fewest cycles (Table III).
    """),
    code("""
    data_dir = None
    profile = "quick"
    seed = 0
    device = "auto"
    run_dir = None           # the pipeline's run directory (notebook 04 trained into run_dir/train/)
    figures_dir = "figures"
    splits = ["official"]    # any of "official" (60/40) and "patient" (80/20)
    seeds = None
    init = "imagenet-if-available"
    train = True
    """, parameters=True),
    code("""
    %matplotlib inline
    import json
    from pathlib import Path

    import pandas as pd
    from IPython.display import Markdown, display

    from respirelib import paper, study
    from respirelib.data_dirs import resolve_data_dir
    from respirelib.profiles import get_profile
    from respirelib.runs import new_run_dir
    from respirelib.viz.results import plot_device_gains
    from respirelib.viz.save import save_figure
    """),
    md("""
    ## Fine-tune per device

    Device names are fixed (AKGC417L, Meditron, LittC2SE, Litt3200), never a directory's listing order as in
    the reference code. A device with no training cycles gets no model (its test cycles keep the stage-1
    model); a device with no validation cycles keeps its last epoch. On the official split the real data
    has **no LittC2SE test recordings** and only a handful of Litt3200 training cycles; the table below says
    so rather than inventing a number.
    """),
    code("""
    data_path = resolve_data_dir(data_dir, seed=0, scale=get_profile(profile).synthetic_scale)
    root = Path(run_dir) if run_dir is not None else new_run_dir("runs", "notebook05")
    seed_list = list(seeds) if seeds else [seed]
    keys = [(split, s) for split in splits for s in seed_list]
    runs = [study.ensure_run(root, data_path, split=split, variant="full", seed=s, profile=profile, init=init,
                             device=device, finetune=True, train=train) for split, s in keys]
    finetuned = [json.loads((run / "metrics_finetuned.json").read_text()) for run in runs]
    label = f"{finetuned[0]['data']} data, {finetuned[0]['init']}, profile {finetuned[0]['profile']}"
    if finetuned[0]["synthetic"]:
        display(Markdown("## ⚠️ SYNTHETIC DATA: these are not ICBHI results"))
    display(pd.DataFrame(finetuned[0]["devices"]).T)
    """),
    md("""
    ## Table III: what fine-tuning changed, per device

    The score of each device's test cycles before (stage-1 model) and after (its device model), in points.
    """),
    code("""
    changes = pd.DataFrame([{"split": split, "seed": s, "device": name, **values}
                            for (split, s), record in zip(keys, finetuned)
                            for name, values in record["per_device_change"].items()])
    changes["score_change"] = pd.to_numeric(changes["score_change"]) * 100
    if "note" not in changes:
        changes["note"] = None
    table_three = changes.groupby(["split", "device"], sort=False).agg(
        mean=("score_change", "mean"), std=("score_change", "std"), runs=("score_change", "count"),
        note=("note", "first"))
    table_three["paper (ICBHI)"] = [paper.TABLE_III[d] for _, d in table_three.index]
    display(Markdown(f"**Table III**, score change in points ({label})"))
    display(table_three)
    for split in splits:
        fig = plot_device_gains(changes[changes["split"] == split], paper.TABLE_III,
                                data_label=finetuned[0]["data"], init=finetuned[0]["init"])
        fig.axes[0].set_title(f"Table III: device-specific fine-tuning ({paper.SPLIT_NAMES[split]})")
        save_figure(fig, f"05_device_gains_{split}", out_dir=figures_dir)
        display(fig)
    """),
    md("""
    ## The +FT row of Table I

    The whole test split, each cycle scored by its device's model.
    """),
    code("""
    results = study.collect_metrics(root)
    results = results[results["split"].isin(splits) & (results["variant"] == "full")]
    table_one = study.side_by_side(study.summarise(results), paper.TABLE_I, task="4-class")
    display(table_one)
    out = root / "05_device_finetuning.json"
    out.write_text(json.dumps({"splits": splits, "seeds": seed_list, "label": label,
                               "table_three": table_three.reset_index().to_dict(orient="records"),
                               "table_one_4class": table_one.to_dict(orient="records")}, indent=2, default=str))
    print("wrote", out)
    """),
    md("""
    ## What to try next

    - Run the patient-disjoint split (`splits=["patient"]`), where every device has test cycles.
    - Fine-tune only the head (freeze the backbone) and compare: is the gain from adapting the features or
      the decision?
    - Next: `06_explanations`, where the model looks (Grad-CAM++).
    """),
]

write(Path(__file__).resolve().parent.parent / "notebooks" / "05_device_finetuning.ipynb", cells)
