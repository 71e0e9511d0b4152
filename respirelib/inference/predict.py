"""Class probabilities for new recordings from an exported model (the library behind ``respirenet predict``).

The recording goes through the training chain: read (WAV or FLAC, any channel count,
channels averaged), resampled from any rate to the model's rate, band-passed and
peak-normalised as a whole (:func:`respirelib.signal.preprocess.preprocess_recording`), then

- with cycle annotations: each cycle is cut out, padded or windowed to the input
  length exactly as in evaluation (the run's label-free ``eval_padding``), and its
  window probabilities are averaged (the export's combine rule): one row per cycle;
- without: windows of the input length every ``hop_seconds`` (default: the run's
  window hop, half the input length) cover the recording, the last one ending at its
  end; a recording shorter than one input is repeated to fill it: one row per window.

The model is the device's fine-tuned model when the device is known (``device_name``
beats the device suffix of an ICBHI-style file name) and the file holds one; else the
stage-1 model. Every row says which model was used.

Evaluation and prediction build the same inputs: neither reads a label (the flags of
an annotation file are echoed, never used), so ``predict --annotations`` on a test
recording gives exactly the probabilities the evaluation scored, also on recordings
whose cycles mix classes.

Annotation files: the ICBHI ``start end crackle wheeze`` rows (the flags are echoed as
``true_label``, never used) or two-column ``start end`` rows, whitespace separated, read
by the ICBHI loader's parser (:func:`respirelib.data.annotations.parse_annotation_file`). A
cycle may end up to ``end_tolerance`` s after the audio (clipped, as the ICBHI loader does);
one that starts or ends later is an error naming the file and line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from respirelib.data.annotations import fit_cycles_to_audio, label_from_flags, parse_annotation_file
from respirelib.data.audio import AudioInfo, audio_info, read_audio
from respirelib.config import CLASS_NAMES
from respirelib.errors import DataError
from respirelib.training.evaluate import predict_probabilities
from respirelib.inference.export import STAGE1, ExportedModel
from respirelib.training.metrics import combine_window_predictions, json_safe
from respirelib.data.names import parse_recording_name
from respirelib.signal.preprocess import extract_cycles, preprocess_recording
from respirelib.signal.samples import SampleSet, recording_inputs

PROBABILITY_COLUMNS = tuple(f"p_{name}" for name in CLASS_NAMES)
CYCLE_COLUMNS = ("cycle", "start", "end", "class", *PROBABILITY_COLUMNS, "n_windows", "model_used")
WINDOW_COLUMNS = ("window", "start", "end", "class", *PROBABILITY_COLUMNS, "padded", "model_used")
# Rows of every recording in one CSV: the union of both kinds, cycle- or window-only fields left empty.
CSV_COLUMNS = ("recording", "kind", "index", "start", "end", "class", *PROBABILITY_COLUMNS, "n_windows", "padded",
               "true_label", "model_used", "device")


@dataclass
class PredictionResult:
    """Predictions for one recording.

    Attributes
    ----------
    recording : Path
    kind : str
        ``"cycles"`` (annotated) or ``"windows"`` (sliding windows).
    table : pd.DataFrame
        :data:`CYCLE_COLUMNS` (plus ``true_label`` when the annotations carry flags) or
        :data:`WINDOW_COLUMNS`; times in seconds from the start of the recording.
    model_used : str
        ``"stage1"`` or ``"stage2:<device>"``.
    device_name : str or None
        The recording's device, if known; ``device_source`` says from where
        (``"argument"`` or ``"file name"``).
    note : str
        Why the stage-1 model was used for a known device, else empty.
    info : AudioInfo
        The file's own sample rate, channels and duration.
    signal : np.ndarray [shape=(n,), dtype=float32]
        The pre-processed recording at ``signal_sr`` (for plotting).
    annotations : Path or None
    """

    recording: Path
    kind: str
    table: pd.DataFrame
    model_used: str
    device_name: str | None
    device_source: str | None
    note: str
    info: AudioInfo
    signal: np.ndarray
    signal_sr: int
    annotations: Path | None = None

    def figure(self, *, data_label: str | None = None):
        """The timeline figure (:func:`respirelib.viz.predict.plot_prediction_timeline`), titled in words.

        ``data_label`` (e.g. ``"synthetic"``) names the data the model learnt from, stamped on the figure.
        """
        from respirelib.viz.predict import plot_prediction_timeline

        return plot_prediction_timeline(self.signal, sr=self.signal_sr, table=self.table, title=self.title(),
                                        data_label=data_label)

    def title(self) -> str:
        """Which recording, from which device, read by which model, in words."""
        device = f"{self.device_name} stethoscope" if self.device_name else "device unknown"
        model = ("the stage-1 model (all devices)" if self.model_used == STAGE1 else
                 f"the model fine-tuned for the {self.model_used.split(':', 1)[1]} stethoscope")
        return f"Recording {self.recording.stem} ({device}), read by {model}"

    def to_dict(self) -> dict:
        """JSON-safe summary and rows."""
        return json_safe({
            "recording": str(self.recording), "annotations": str(self.annotations) if self.annotations else None,
            "kind": self.kind, "model_used": self.model_used, "device": self.device_name,
            "device_source": self.device_source, "note": self.note, "sample_rate": self.info.sample_rate,
            "channels": self.info.channels, "duration": self.info.duration,
            "rows": self.table.to_dict(orient="records")})

    def csv_rows(self) -> pd.DataFrame:
        """The table in :data:`CSV_COLUMNS` layout (one CSV can hold several recordings of both kinds)."""
        table = self.table.rename(columns={"cycle": "index", "window": "index"})
        table = table.assign(recording=self.recording.name, kind={"cycles": "cycle", "windows": "window"}[self.kind],
                             device=self.device_name)
        return table.reindex(columns=list(CSV_COLUMNS))


def _annotated_cycles(path: Path) -> pd.DataFrame:
    """The cycles of an annotation file (:func:`respirelib.data.annotations.parse_annotation_file`), flags optional.

    Any bad row is an error naming the file and line; the flags, when given, become ``true_label``.
    """
    cycles, _ = parse_annotation_file(path, require_flags=False, strict=True)
    if "crackle" in cycles:
        cycles["true_label"] = label_from_flags(cycles["crackle"], cycles["wheeze"])
    return cycles


def _fit_to_audio(cycles: pd.DataFrame, *, duration: float, annotations: Path, audio: Path,
                  end_tolerance: float) -> pd.DataFrame:
    fitted, _, outside = fit_cycles_to_audio(cycles, duration=duration, end_tolerance=end_tolerance)
    if outside.any():
        row = cycles[outside].iloc[0]
        raise DataError(annotations, f"cycle {row['start']:g}-{row['end']:g} s lies outside the audio of "
                                     f"{audio} ({duration:.3f} s long)", line=int(row["line"]))
    return fitted


def recording_device(path: str | Path, device_name: str | None = None) -> tuple[str | None, str | None]:
    """The recording's device and where it came from: ``device_name`` first, else the ICBHI file name.

    Returns
    -------
    device : str or None
    source : {"argument", "file name"} or None
    """
    if device_name:
        return device_name, "argument"
    try:
        return parse_recording_name(Path(path).stem).device, "file name"
    except ValueError:
        return None, None


def _probabilities(model: ExportedModel, key: str, windows: np.ndarray, *, batch_size: int) -> np.ndarray:
    network, frontend = model.network(key)
    n = len(windows)
    samples = SampleSet(torch.from_numpy(np.ascontiguousarray(windows, dtype=np.float32)),
                        torch.zeros(n, dtype=torch.int64), np.arange(n), np.full(n, "", dtype=object))
    return predict_probabilities(network, frontend, samples, batch_size=batch_size, precision=model.precision)


def _probability_frame(probs: np.ndarray) -> pd.DataFrame:
    frame = pd.DataFrame(probs, columns=list(PROBABILITY_COLUMNS))
    frame.insert(0, "class", np.asarray(CLASS_NAMES, dtype=object)[probs.argmax(axis=1)])
    return frame


def _cycle_table(model: ExportedModel, key: str, signal: np.ndarray, cycles: pd.DataFrame, *,
                 batch_size: int, path: Path) -> pd.DataFrame:
    audio, sr = model.audio, model.audio.sample_rate
    segments = extract_cycles(signal, sr=sr, starts=cycles["start"].to_numpy(), ends=cycles["end"].to_numpy())
    for segment, (_, row) in zip(segments, cycles.iterrows()):
        if len(segment) == 0:
            raise DataError(path, f"cycle {row['start']:g}-{row['end']:g} s holds no samples at {sr} Hz",
                            line=int(row["line"]))
    inputs = recording_inputs(segments, sr=sr, config=audio)
    combined = combine_window_predictions(_probabilities(model, key, inputs.waves, batch_size=batch_size),
                                          inputs.owner, rule=model.combine_rule)
    order = np.argsort(combined.cycle_ids)
    table = pd.concat([pd.DataFrame({"cycle": np.arange(len(cycles)), "start": cycles["start"].to_numpy(),
                                     "end": cycles["end"].to_numpy()}),
                       _probability_frame(combined.scores[order])], axis=1)
    table["n_windows"] = combined.n_windows[order]
    table["model_used"] = key if key == STAGE1 else f"stage2:{key}"
    if "true_label" in cycles:
        table["true_label"] = cycles["true_label"].to_numpy()
    return table


def _window_table(model: ExportedModel, key: str, signal: np.ndarray, *, hop_seconds: float,
                  batch_size: int) -> pd.DataFrame:
    sr, n_target = model.audio.sample_rate, model.audio.n_samples
    # The recording as one long cycle; one shorter than an input is repeated to fill it.
    inputs = recording_inputs([signal], sr=sr, config=model.audio, padding="repeat", hop_seconds=hop_seconds)
    windows, starts = inputs.waves, np.maximum(inputs.starts, 0)
    table = pd.concat([pd.DataFrame({"window": np.arange(len(starts)), "start": starts / sr,
                                     "end": np.minimum(starts + n_target, len(signal)) / sr}),
                       _probability_frame(_probabilities(model, key, windows, batch_size=batch_size))], axis=1)
    table["padded"] = len(signal) < n_target
    table["model_used"] = key if key == STAGE1 else f"stage2:{key}"
    return table


def predict_recording(model: ExportedModel, path: str | Path, *, annotations: str | Path | None = None,
                      device_name: str | None = None, hop_seconds: float | None = None,
                      end_tolerance: float = 0.1, batch_size: int = 64) -> PredictionResult:
    """Classify the breathing cycles of a recording, or sliding windows over it.

    Parameters
    ----------
    model : ExportedModel
        From :func:`respirelib.inference.export.load_exported_model`.
    path : str or Path
        A WAV or FLAC file: any sample rate, any number of channels (averaged).
    annotations : str or Path, optional
        Cycle boundaries (rows ``start end crackle wheeze`` or ``start end``, see
        :func:`respirelib.data.annotations.parse_annotation_file`); without them the
        recording is covered by sliding windows.
    device_name : str, optional
        The recording's device; beats the device suffix of an ICBHI-style file name.
        A device without a fine-tuned model in ``model`` gets the stage-1 model.
    hop_seconds : float, optional
        Hop between sliding windows (default: the run's window hop, half the input).
    end_tolerance : float
        Seconds a cycle may run past the audio's end (then clipped).
    batch_size : int
        Inputs per forward pass.

    Returns
    -------
    PredictionResult
        ``table`` has one row per cycle (``kind="cycles"``) or per window, with the
        predicted ``class`` and ``p_normal``, ``p_crackle``, ``p_wheeze``, ``p_both``
        (each row sums to 1).

    Raises
    ------
    AudioError
        The audio is missing, empty, truncated or not decodable.
    DataError
        The annotations are malformed or a cycle lies outside the audio.
    """
    path = Path(path)
    info = audio_info(path)
    y, sr = read_audio(path)
    signal = preprocess_recording(y, sr=sr, config=model.audio)
    device, source = recording_device(path, device_name)
    key = model.model_key(device)
    note = "" if device is None or key != STAGE1 else f"no fine-tuned model for device {device!r} in this file"
    if annotations is not None:
        annotations = Path(annotations)
        cycles = _fit_to_audio(_annotated_cycles(annotations), duration=info.duration,
                               annotations=annotations, audio=path, end_tolerance=end_tolerance)
        table = _cycle_table(model, key, signal, cycles, batch_size=batch_size, path=annotations)
        kind = "cycles"
    else:
        hop = model.audio.window_hop * model.audio.cycle_duration if hop_seconds is None else hop_seconds
        table = _window_table(model, key, signal, hop_seconds=hop, batch_size=batch_size)
        kind = "windows"
    return PredictionResult(recording=path, kind=kind, table=table, model_used=table["model_used"].iloc[0],
                            device_name=device, device_source=source, note=note, info=info, signal=signal,
                            signal_sr=model.audio.sample_rate, annotations=annotations)
