"""The model card written beside an exported model: what it was trained on, how it was scored, its limits.

:func:`render_model_card` reads only the export's plain entries (no weights), so the
card says exactly what the file holds. Sections follow the usual model-card outline
(Mitchell et al., 2019): intended use, training data, evaluation protocol, metrics,
limits; a synthetic-data warning and a "not a medical device" statement come first.
"""

from __future__ import annotations

from collections.abc import Mapping

from respirelib.config import CLASS_NAMES
from respirelib.training.metrics import format_interval

NOT_A_MEDICAL_DEVICE = (
    "**This is not a medical device.** It is a research model, not cleared or validated for any clinical "
    "use. Do not use its outputs to diagnose, treat or monitor anyone.")
RESEARCH_PROFILES = {"smoke": "a seconds-long test schedule: its weights and numbers mean nothing",
                     "quick": "a shortened CPU schedule (a narrow ResNet-18 from random init with a crackle and "
                              "wheeze presence head, smaller images, 30 short epochs)"}


def _percent(value) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}"


def _with_interval(metrics: Mapping, path: tuple[str, ...], value) -> str:
    """The number with its 95% interval from ``metrics["ci"]`` (older files carry none)."""
    entry = metrics.get("ci", {})
    for key in path:
        entry = (entry or {}).get(key, {})
    if value is None or not entry:
        return _percent(value)
    return format_interval(value, entry.get("ci"))


def _table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _precision_note(precision: Mapping | None) -> str:
    """The training precision as the card states it (runs made before it was recorded trained in fp32 on CPU)."""
    if not precision:
        return "not recorded (runs of that age trained in fp32 on CPU, bf16 autocast on CUDA)"
    return (f"{precision['used']} (asked for: {precision['requested']}; {precision['reason']}); "
            "`respirenet predict` runs the network in the same precision unless `--precision` says otherwise")


def _data_section(data: Mapping, training: Mapping) -> str:
    label = "SYNTHETIC" if data["synthetic"] else f"ICBHI 2017 Respiratory Sound Database: {data['label']}"
    parts = [f"- Data: **{label}** (fingerprint `{data['fingerprint']}`, a content hash of every file read)."]
    if data["synthetic"]:
        parts.append(f"- {data.get('synthetic_warning') or 'SYNTHETIC DATA: not recorded from any patient.'}")
    summary = data["summary"]
    if not summary.get("available"):
        parts.append(f"- Devices, sample rates and counts: unknown ({summary.get('note')}).")
        return "\n".join(parts)
    cycles = summary["cycles"]
    parts.append(f"- {summary['recordings']} recordings from {summary['patients']} patients; cycles per subset: "
                 + ", ".join(f"{part} {n}" for part, n in cycles.items()) + ".")
    parts.append(f"- Sample rates in the data: {', '.join(f'{r} Hz' for r in summary['sample_rates'])}; channels "
                 f"per file: {', '.join(map(str, summary['channels']))}.")
    rows = [[name, d["recordings"], d["patients"], d["cycles"].get("train", 0), d["cycles"].get("val", 0),
             d["cycles"].get("test", 0), ", ".join(map(str, d["sample_rates"]))]
            for name, d in summary["per_device"].items()]
    parts.append("\nPer device (cycles by subset):\n\n"
                 + _table(["device", "recordings", "patients", "train", "val", "test", "sample rates (Hz)"], rows))
    class_rows = [[part] + [counts.get(name, 0) for name in CLASS_NAMES] for part, counts in summary["classes"].items()]
    parts.append("\nClasses by subset:\n\n" + _table(["subset", *CLASS_NAMES], class_rows))
    return "\n".join(parts)


def _protocol_section(training: Mapping) -> str:
    split = ("the official ICBHI 60/40 challenge split" if training["split"] == "official"
             else f"a patient-disjoint 80/20 split (fold {training['fold']} as test, seed {training['seed']})")
    lines = [f"- Split: {split}. Validation patients are held out of the training part "
             f"(subset sizes in cycles: {', '.join(f'{k} {v}' for k, v in training['subset_sizes'].items())})."]
    for stage, name in (("stage1", "Stage 1"), ("stage2", "Stage 2 (per device)")):
        where = training["select_on"][stage]
        note = ("on the validation patients" if where == "val"
                else "**on the test set** (as the reference code does): the test metrics below are optimistic")
        metric = ("the mean of the four class recalls (a departure from the paper's ICBHI score)"
                  if training.get("select_metric", {}).get(stage) == "mean_recall" else "ICBHI score")
        lines.append(f"- {name}: checkpoint selected by {metric} {note}.")
    lines.append("- The test split is used once, for the final evaluation below. Every test input is built without "
                 "labels (short cycles padded with their neighbours whatever their class), exactly as `respirenet "
                 "predict` builds the inputs of a new recording.")
    return "\n".join(lines)


def _metrics_section(metrics: Mapping, synthetic: bool) -> str:
    definitions = (
        "Definitions (ICBHI challenge, as in the paper), over test cycles: Se = (Pc + Pw + Pb) / (Nc + Nw + Nb), "
        "Sp = Pn / Nn, Score = (Se + Sp) / 2, where P counts correctly classified cycles of a class and N all "
        "cycles of it. 2-class: Se is the share of abnormal cycles (crackle, wheeze, both) predicted as any "
        "abnormal class. Cycles longer than the input are cut into windows whose probabilities are averaged. "
        "Brackets: 95% confidence intervals from a patient-level bootstrap (test patients resampled with "
        "replacement, 1000 times).")
    rows = []
    for stage, name in (("stage1", "stage 1"), ("finetuned", "stage 1 + device fine-tuning")):
        m = metrics.get(stage)
        if m:
            rows.append([name, m.get("part", "test"), m["n_cycles"]]
                        + [_with_interval(m, (task, metric), m[task][metric])
                           for task in ("four_class", "two_class") for metric in ("sp", "se", "score")])
    if not rows:
        return definitions + "\n\nNo test metrics: the run was not evaluated before export."
    text = definitions + "\n\n" + _table(["model", "part", "cycles", "Sp %", "Se %", "Score %", "2-class Sp %",
                                          "2-class Se %", "2-class Score %"], rows)
    per_device = (metrics.get("finetuned") or metrics.get("stage1") or {}).get("per_device") or {}
    scored = metrics.get("finetuned") or metrics.get("stage1") or {}
    device_rows = [[name, d.get("n_cycles")]
                   + [_with_interval(scored, ("per_device", name, "four_class", metric), d.get(metric))
                      for metric in ("sp", "se", "score")] + [d.get("note") or ""]
                   for name, d in per_device.items()]
    if device_rows:
        text += "\n\nPer device (the model each device's cycles were scored by):\n\n" + _table(
            ["device", "test cycles", "Sp %", "Se %", "Score %", "note"], device_rows)
    if synthetic:
        text += "\n\nThese numbers are measured on SYNTHETIC data and say nothing about real lung sounds."
    return text


def _devices_section(payload: Mapping) -> str:
    status = payload["device_status"]
    if not status:
        return "No device-specific models: the run was not fine-tuned (stage 2); every recording uses stage 1."
    rows = [[name, "yes" if name in payload["devices"] else "no", s.get("status", ""),
             s.get("note") or s.get("reason") or ""] for name, s in status.items()]
    return ("A recording whose device is known (from an ICBHI-style file name or `--device`) is scored by that "
            "device's fine-tuned model when the file holds one; any other recording by the stage-1 model.\n\n"
            + _table(["device", "model in file", "stage 2", "note"], rows))


def _limits_section(payload: Mapping) -> str:
    audio, data = payload["audio"], payload["data"]
    summary = data["summary"]
    devices = ", ".join(summary["per_device"]) if summary.get("available") else "see the training data section"
    rates = ", ".join(f"{r} Hz" for r in summary["sample_rates"]) if summary.get("available") else "unknown"
    items = [
        f"Devices seen in training: {devices}. Other stethoscopes, microphones or phones were never seen.",
        f"Sample rates seen: {rates}. Any rate is resampled to {audio['sample_rate']} Hz, so sounds above "
        f"{audio['sample_rate'] // 2} Hz are discarded; rates not seen in training are untested.",
        "Several channels are averaged to one, as in training.",
        f"The model classifies one {audio['cycle_duration']:g} s input at a time and was trained on single annotated "
        "breathing cycles (padded or windowed to that length). Per-cycle predictions need cycle boundaries; "
        "sliding windows over an unannotated recording straddle cycles and are a rough guide only.",
        "Short cycles are padded with the neighbouring cycles' audio whatever their class (training used the "
        "true classes to choose neighbours, which are unknown at prediction time).",
        "Four classes only (normal, crackle, wheeze, both); other adventitious sounds, noise, speech or heart "
        "sounds are forced into one of them. Classes are imbalanced in the data.",
        "The patients, recording sites and conditions of the training data limit where results carry over; "
        "no external or clinical validation has been done.",
    ]
    return "\n".join(f"- {item}" for item in items)


def render_model_card(payload: Mapping) -> str:
    """Markdown model card for an export payload (see :mod:`respirelib.inference.export` for its entries).

    Returns
    -------
    card : str
    """
    training, data, model, provenance = payload["training"], payload["data"], payload["model"], payload["provenance"]
    profile = training["profile"]
    init = training["init"]
    profile_note = RESEARCH_PROFILES.get(profile)
    header = [f"# Model card: RespireNet ({model['backbone']}, profile `{profile}`)", ""]
    if data["synthetic"]:
        header += ["> ⚠️ **TRAINED ON SYNTHETIC DATA.** This model has never heard a real lung sound. Its outputs "
                   "and metrics are for testing the software only.", ""]
    header += [f"> {NOT_A_MEDICAL_DEVICE}", ""]
    overview = _table(["item", "value"], [
        ["task", "4-class breathing-cycle classification: " + ", ".join(CLASS_NAMES)],
        ["architecture", f"{model['backbone']} + 2 fully connected layers of {model['hidden']} (RespireNet)"],
        ["initialisation", f"{init}" + (" (ImageNet weights, as in the paper)" if "ImageNet" in init
                                        else " (not the paper's ImageNet initialisation)")],
        ["profile", f"`{profile}`: " + (f"{profile_note}; **not the paper's schedule**" if profile_note
                                         else training.get("profile_description") or "")],
        ["training data", "SYNTHETIC" if data["synthetic"] else data["label"]],
        ["precision", _precision_note(training.get("precision"))],
        ["input", f"{payload['audio']['cycle_duration']:g} s at {payload['audio']['sample_rate']} Hz, "
                  f"{payload['features']['n_mels']} Mel bands"],
        ["trained with commit", f"`{provenance.get('trained_with_commit')}` on {provenance.get('trained')}"],
        ["exported", f"{provenance.get('exported')} with respirelib {provenance.get('respirelib_version')} "
                     f"(commit `{provenance.get('exported_with_commit')}`)"],
        ["file format", f"`{payload['format']}` version {payload['format_version']} (loads with "
                        "`torch.load(weights_only=True)`)"],
    ])
    audio, features, clipping = payload["audio"], payload["features"], payload["frontend"]
    preprocessing = (
        f"Resample to {audio['sample_rate']} Hz ({audio['resample_type']}), Butterworth band-pass "
        f"{audio['low_hz']:g}-{audio['high_hz']:g} Hz (order {audio['filter_order']}, zero phase), peak "
        f"normalisation to [-1, 1]; inputs of {audio['cycle_duration']:g} s ({audio['padding']} padding, windows "
        f"every {audio['window_hop'] * audio['cycle_duration']:g} s for longer cycles); Mel spectrogram "
        f"({features['n_mels']} bands, n_fft {features['n_fft']}, hop {features['hop_length']}, "
        f"{features['fmin']:g}-{features['fmax']:g} Hz, {features['scaling']} scaling), {features['image_mode']} "
        f"image; blank region clipping stage 1: {clipping['stage1']['clip_blank']}, stage 2: "
        f"{clipping['stage2']['clip_blank']}, blank meaning below the spectrogram's "
        f"{'mean level' if features.get('blank_level') == 'mean' else 'floor (the paper)'}.")
    usage = ("```\nrespirenet predict REC.wav --model MODEL.pt --annotations REC.txt   # per cycle\n"
             "respirenet predict REC.wav --model MODEL.pt --json out.json          # sliding windows + timeline\n"
             "```\n\n```python\nfrom respirelib.inference.export import load_exported_model\n"
             "from respirelib.inference.predict import predict_recording\n\nmodel = load_exported_model(\"MODEL.pt\")\n"
             "result = predict_recording(model, \"REC.wav\", annotations=\"REC.txt\")\nresult.table\n```")
    sections = [
        ("Intended use", "Research and teaching: reproducing and examining RespireNet (Gairola et al., EMBC 2021) "
                         "on recordings like those it was trained on. " + NOT_A_MEDICAL_DEVICE),
        ("Training data", _data_section(data, training)),
        ("Split and protocol", _protocol_section(training)),
        ("Metrics", _metrics_section(payload["metrics"], data["synthetic"])),
        ("Device models", _devices_section(payload)),
        ("Pre-processing", preprocessing),
        ("Known limits", _limits_section(payload)),
        ("How to use", usage),
    ]
    body = "\n\n".join(f"## {title}\n\n{text}" for title, text in sections)
    return "\n".join(header) + "\n" + overview + "\n\n" + body + "\n"
