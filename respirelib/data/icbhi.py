"""The ICBHI 2017 data layer: one loader for the real database and the synthetic one.

:func:`load_icbhi` reads a folder in the layout the database is distributed in
(``NAME.wav`` + ``NAME.txt`` per recording, flat, inside ``ICBHI_final_database/`` or in the
Kaggle copy's folders (:mod:`respirelib.data.layout`), plus the split, diagnosis and demographic
files) and returns an :class:`ICBHIDataset` with a cycles table, a recordings table, a
patients table and a :class:`LoaderReport` of everything skipped, repaired or ignored, and,
for real data, the check against the release (:mod:`respirelib.data.verify`). It never writes
into the data folder.

A process loads (and hashes) one folder once: :func:`load_icbhi` keeps each load, keyed by the
folder and the name, size and modification time of every file in it, and hands out copies
while nothing there changes, so training, evaluation, stage 2 and a notebook's cells share one
read. A file changed, added or removed makes the next call read the folder again.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from respirelib.data import metadata
from respirelib.data.annotations import fit_cycles_to_audio, label_from_flags, parse_annotation_file
from respirelib.data.audio import audio_info
from respirelib.data.names import SYNTHETIC_MARKER
from respirelib.errors import DataError
from respirelib.data.layout import Layout, find_layout, find_metadata, scan_layout
from respirelib.data.names import DEVICES, RecordingName, parse_recording_name
from respirelib.data.report import LoaderReport
from respirelib.data.verify import Verdict, verify_layout

CLASS_ORDER = ("normal", "crackle", "wheeze", "both")
CYCLE_COLUMNS = ("recording", "patient", "recording_index", "chest_location", "acquisition_mode", "device",
                 "cycle_index", "start", "end", "duration", "crackle", "wheeze", "label", "label_id",
                 "diagnosis", "split")


@dataclass
class ICBHIDataset:
    """What :func:`load_icbhi` returns.

    Attributes
    ----------
    cycles : pd.DataFrame
        One row per annotated breathing cycle, columns :data:`CYCLE_COLUMNS`
        (``split`` is ``train``/``test`` from the official file, or missing).
    recordings : pd.DataFrame
        One row per recording: name fields, ``n_cycles``, ``split``, ``diagnosis``,
        ``annotation_path``, ``audio_path`` and, where audio is present,
        ``sample_rate``, ``channels``, ``audio_duration`` (s).
    patients : pd.DataFrame
        One row per patient: ``diagnosis`` and demographics where known.
    report : LoaderReport
    has_audio : bool
    synthetic : dict or None
        The synthetic generator's marker file, or ``None`` for real data.
    """

    root: Path
    recordings: pd.DataFrame
    cycles: pd.DataFrame
    patients: pd.DataFrame
    report: LoaderReport
    has_audio: bool
    synthetic: dict | None = None
    _audio_files: list[Path] = field(default_factory=list, repr=False)
    _text_files: list[Path] = field(default_factory=list, repr=False)
    # One box shared by the copies of one kept load (see load_icbhi), so its files are hashed once.
    _fingerprint: dict = field(default_factory=dict, repr=False)

    @property
    def is_synthetic(self) -> bool:
        return self.synthetic is not None

    @property
    def verdict(self) -> Verdict | None:
        """Real data's check against the ICBHI 2017 release (:mod:`respirelib.data.verify`); ``None`` if synthetic."""
        return self.report.verdict

    @property
    def data_label(self) -> str:
        """Every number reported from this data carries it: ``"synthetic"`` or the verdict's label
        (``"ICBHI 2017, verified"``, ``"ICBHI 2017 subset (...)"``, ``"ICBHI-like, N files differ from
        the release"``; see :attr:`respirelib.data.verify.Verdict.label`)."""
        if self.is_synthetic:
            return "synthetic"
        return self.verdict.label if self.verdict is not None else "ICBHI"

    @property
    def fingerprint(self) -> str:
        """A content hash of every file the dataset was read from (see :mod:`respirelib.data.fingerprint`);
        computed on first use, once per load."""
        from respirelib.data.fingerprint import files_fingerprint

        if "value" not in self._fingerprint:
            self._fingerprint["value"] = files_fingerprint(self.root, self._text_files + self._audio_files)
        return self._fingerprint["value"]


class _Problems:
    """Raises at the first problem (``errors="raise"``) or records it as skipped."""

    def __init__(self, errors: str, report: LoaderReport):
        if errors not in ("raise", "skip"):
            raise ValueError(f"errors must be 'raise' or 'skip', not {errors!r}")
        self.errors, self.report = errors, report

    def __call__(self, error: DataError, consequence: str) -> None:
        if self.errors == "raise":
            raise DataError(error.path, f"{error.problem} (load with errors='skip' or --skip-bad to "
                                        "leave such data out and list every problem)", line=error.line)
        where = f"{error.path}:{error.line}" if error.line is not None else str(error.path)
        self.report.add("skipped", where, f"{error.problem}; {consequence}")


def _scan_folder(layout: Layout, report: LoaderReport) -> tuple[dict[str, Path], dict[str, Path]]:
    """Sort the folder's files into annotations and audio by stem; list anything else as ignored."""
    scan = scan_layout(layout)
    for path, kept in scan.second_audio:
        report.add("ignored", path, f"a second audio file for {path.stem}; using {kept.name}")
    for path in scan.unexpected:
        report.add("ignored", path, f"unexpected {'folder' if path.is_dir() else 'file'}, not part of the ICBHI layout")
    return scan.annotations, scan.audio


def _resolve_names(stems: set[str], split: dict[str, str], old_names: set[str], problems: _Problems,
                   paths: dict[str, Path], report: LoaderReport) -> dict[str, RecordingName]:
    """Parse every stem into a recording name, renaming old-release device suffixes."""
    split_by_key: dict[str, list[str]] = {}
    for name in split:
        split_by_key.setdefault(name.rsplit("_", 1)[0], []).append(name)
    resolved: dict[str, RecordingName] = {}
    for stem in sorted(stems):
        try:
            parsed = parse_recording_name(stem)
        except ValueError as error:
            problems(DataError(paths[stem], str(error)), "recording left out")
            continue
        if stem in old_names and stem not in split:
            current = [name for name in split_by_key.get(parsed.key, []) if name != stem]
            if len(current) == 1:
                renamed = parse_recording_name(current[0])
                report.add("repaired", paths[stem], f"older-release name (filename_differences.txt); "
                                                    f"read as the current release's {renamed.name}")
                parsed = renamed
        resolved[stem] = parsed
    seen: dict[str, str] = {}
    for stem, parsed in list(resolved.items()):
        if parsed.name in seen:
            problems(DataError(paths[stem], f"same recording as {paths[seen[parsed.name]].name} "
                                            "(old and new release names both present)"), "left out")
            del resolved[stem]
        else:
            seen[parsed.name] = stem
    return resolved


def _split_for(name: RecordingName, split: dict[str, str], report: LoaderReport, path: Path) -> str | None:
    if name.name in split:
        return split[name.name]
    candidates = [listed for listed in split if listed.rsplit("_", 1)[0] == name.key]
    if len(candidates) == 1:
        report.add("repaired", path, f"the split file lists it as {candidates[0]} (another device suffix); "
                                     f"matched on {name.key}")
        return split[candidates[0]]
    report.add("skipped", path, "not listed in the split file: left out of the official split (split is missing)")
    return None


def _check_cycles_against_audio(cycles: pd.DataFrame, duration: float, path: Path, tolerance: float,
                                problems: _Problems, report: LoaderReport) -> pd.DataFrame:
    fitted, clipped, outside = fit_cycles_to_audio(cycles, duration=duration, end_tolerance=tolerance)
    if not (clipped.any() or outside.any()):  # the usual case, once per recording: nothing to report
        return fitted
    for _, row in cycles[clipped].iterrows():
        report.add("repaired", path, f"cycle {row['cycle_index']} ends {row['end'] - duration:.3f} s after the audio "
                                     f"({duration:.3f} s); end clipped to the audio's end")
    for _, row in cycles[outside].iterrows():
        problems(DataError(path, f"cycle {row['cycle_index']} ({row['start']:.3f}-{row['end']:.3f} s) runs "
                                 f"past the end of the audio ({duration:.3f} s)"), "cycle left out")
    return fitted[~outside]


# Loads kept for this process: (resolved folder, end_tolerance) -> (state of its files, {(audio, errors): dataset}).
_LOADED: dict[tuple, tuple[tuple, dict]] = {}
# A file modified this recently may be modified again within one tick of the file system's clock, keeping its
# size and modification time (git's "racy" files): a folder holding one is read again at every call.
RACY_SECONDS = 2.0


def _files_state(root: Path) -> tuple:
    """Sorted (relative name, size, mtime_ns) of every file under ``root``: what any change to the folder changes."""
    state = []
    for directory, _, names in os.walk(root, followlinks=True):
        for name in names:
            path = os.path.join(directory, name)
            stat = os.stat(path)
            state.append((os.path.relpath(path, root), stat.st_size, stat.st_mtime_ns))
    return tuple(sorted(state))


def _serves(kept: tuple[str, str], dataset: ICBHIDataset, wanted: tuple[str, str]) -> bool:
    """Whether a kept load with options ``kept`` is exactly what a load with ``wanted`` would return.

    A load that met no problem is the same with ``errors="raise"`` or ``"skip"``, and one that
    read audio is the same with ``audio="require"`` or ``"auto"``.
    """
    (audio, errors), (wanted_audio, wanted_errors) = kept, wanted
    same_audio = audio == wanted_audio or ({audio, wanted_audio} <= {"auto", "require"} and dataset.has_audio)
    return same_audio and (errors == wanted_errors or errors == "raise" or not dataset.report.skipped)


def _copy(dataset: ICBHIDataset) -> ICBHIDataset:
    """A copy a caller may change without changing the kept load (the fingerprint box stays shared)."""
    return dataclasses.replace(dataset, recordings=dataset.recordings.copy(), cycles=dataset.cycles.copy(),
                               patients=dataset.patients.copy(), report=copy.deepcopy(dataset.report))


def forget_loaded() -> None:
    """Drop every kept load, so the next :func:`load_icbhi` reads its folder as a new process would
    (the benchmarks time cold and warm loads)."""
    _LOADED.clear()


def load_icbhi(root: str | Path, *, audio: str = "auto", errors: str = "raise",
               end_tolerance: float = 0.1) -> ICBHIDataset:
    """Load an ICBHI-layout folder (real or synthetic), once per process while its files are unchanged.

    Parameters
    ----------
    root : str or Path
        The database folder, in any layout :func:`respirelib.data.layout.find_layout` knows.
    audio : {"auto", "require", "ignore"}
        ``auto``: audio is expected for every annotation when the folder holds any
        audio, and an annotation-only folder is fine; ``require``: audio must be
        there; ``ignore``: do not look at audio (faster, no sample rates).
    errors : {"raise", "skip"}
        ``raise`` stops at the first bad file with a :class:`DataError` naming it;
        ``skip`` leaves bad data out and lists each case in ``report``.
    end_tolerance : float
        Seconds a cycle may run past the end of its audio before it counts as bad;
        within it the end is clipped (and reported as repaired).

    Returns
    -------
    ICBHIDataset
        A copy of this process's earlier load of the same folder when no file in it changed
        since (same names, sizes and modification times) and the options give the same result.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(root, "data folder does not exist" if not root.exists() else "not a folder")
    if audio not in ("auto", "require", "ignore"):
        raise ValueError(f"audio must be 'auto', 'require' or 'ignore', not {audio!r}")
    started_ns = time.time_ns()
    key, state, options = (root.resolve(), end_tolerance), _files_state(root), (audio, errors)
    kept_state, kept = _LOADED.get(key, (None, {}))
    if kept_state == state:
        for kept_options, dataset in kept.items():
            if _serves(kept_options, dataset, options):
                return _copy(dataset)
    dataset = _read_folder(root, audio=audio, errors=errors, end_tolerance=end_tolerance)
    if all(mtime_ns < started_ns - RACY_SECONDS * 1e9 for _, _, mtime_ns in state):
        _LOADED[key] = (state, {**(kept if kept_state == state else {}), options: dataset})
    return _copy(dataset)


def _read_folder(root: Path, *, audio: str, errors: str, end_tolerance: float) -> ICBHIDataset:
    """What :func:`load_icbhi` does on a folder it has not kept."""
    report = LoaderReport()
    problems = _Problems(errors, report)
    layout = find_layout(root)
    annotation_paths, audio_paths = _scan_folder(layout, report)
    if not annotation_paths and not audio_paths:
        raise DataError(root, "no ICBHI recordings found (expected NAME.txt and NAME.wav files, flat, in "
                              "ICBHI_final_database/ or in Respiratory_Sound_Database/audio_and_txt_files/)")
    use_audio = audio == "require" or (audio == "auto" and bool(audio_paths))
    if audio == "require" and not audio_paths:
        raise DataError(layout.recordings_dir, "no audio files (.wav/.flac) found: training, evaluation and the "
                                                 "cycle cache need the recordings' audio")
    if not use_audio:
        report.add("note", layout.recordings_dir, "annotation files only: no audio read "
                                                  f"({'ignored on request' if audio == 'ignore' else 'none present'})")

    split_path = find_metadata(layout, metadata.SPLIT_FILE_NAMES)
    split = metadata.read_split_file(split_path) if split_path else {}
    if split_path is None:
        report.add("note", root, "no ICBHI_challenge_train_test.txt: the official split is unavailable")
    differences_path = find_metadata(layout, metadata.DIFFERENCES_FILE_NAMES)
    old_names = metadata.read_filename_differences(differences_path) if differences_path else set()

    paths = {**audio_paths, **annotation_paths}
    stems = set(annotation_paths) | (set(audio_paths) if use_audio else set())
    names = _resolve_names(stems, split, old_names, problems, paths, report)

    recording_rows, cycle_frames, audio_infos = [], [], {}
    for stem, name in sorted(names.items(), key=lambda item: item[1].name):
        annotation_path, audio_path = annotation_paths.get(stem), audio_paths.get(stem)
        if annotation_path is None:
            problems(DataError(audio_path, "audio without an annotation file "
                                           f"({stem}.txt is missing)"), "recording left out")
            continue
        if use_audio and audio_path is None:
            problems(DataError(annotation_path, "annotation without audio "
                                                f"({stem}.wav is missing)"), "recording left out")
            continue
        try:
            cycles, bad_rows = parse_annotation_file(annotation_path)
        except DataError as error:
            problems(error, "recording left out")
            continue
        for line, problem in bad_rows:
            problems(DataError(annotation_path, problem, line=line), "row left out")
        row = {"recording": name.name, "patient": name.patient, "recording_index": name.recording_index,
               "chest_location": name.chest_location, "acquisition_mode": name.acquisition_mode,
               "device": name.device, "annotation_path": str(annotation_path),
               "audio_path": str(audio_path) if use_audio else None}
        if use_audio:
            try:
                info = audio_info(audio_path)
            except DataError as error:
                problems(error, "recording left out")
                continue
            audio_infos[audio_path] = info
            row.update(sample_rate=info.sample_rate, channels=info.channels, audio_duration=info.duration)
            cycles = _check_cycles_against_audio(cycles, info.duration, annotation_path, end_tolerance,
                                                 problems, report)
        row["split"] = _split_for(name, split, report, annotation_path) if split else None
        row["n_cycles"] = len(cycles)
        recording_rows.append(row)
        cycle_frames.append(cycles.assign(recording=name.name))

    listed_without_recording = set(split) - {row_name for row_name in (r["recording"] for r in recording_rows)}
    matched_keys = {r["recording"].rsplit("_", 1)[0] for r in recording_rows}
    unmatched = sorted(n for n in listed_without_recording if n.rsplit("_", 1)[0] not in matched_keys)
    if unmatched and split_path is not None:
        report.add("note", split_path, f"{len(unmatched)} recordings in the split file are not in the folder "
                                       f"(e.g. {', '.join(unmatched[:3])})")

    recordings = pd.DataFrame(recording_rows)
    if recordings.empty:
        raise DataError(root, "no usable recordings (see the problems above)")
    patients = _patients_table(layout, recordings, report)
    recordings = recordings.merge(patients[["patient", "diagnosis"]], on="patient", how="left")
    cycles = _cycles_table(cycle_frames, recordings)
    synthetic = _read_marker(root)
    if not synthetic:  # cheap: hashes the text files, reuses the audio headers read above
        report.verdict = verify_layout(root, layout, audio=use_audio, audio_infos=audio_infos)
    text_files = sorted({Path(p) for p in recordings["annotation_path"]}
                        | {p for p in (split_path, differences_path,
                                       find_metadata(layout, metadata.DIAGNOSIS_FILE_NAMES),
                                       find_metadata(layout, metadata.DEMOGRAPHIC_FILE_NAMES)) if p})
    audio_files = sorted(Path(p) for p in recordings["audio_path"].dropna()) if use_audio else []
    return ICBHIDataset(root=root, recordings=recordings, cycles=cycles, patients=patients, report=report,
                        has_audio=use_audio, synthetic=synthetic, _audio_files=audio_files,
                        _text_files=text_files)


def _patients_table(layout: Layout, recordings: pd.DataFrame, report: LoaderReport) -> pd.DataFrame:
    patients = pd.DataFrame({"patient": sorted(recordings["patient"].unique())})
    diagnosis_path = find_metadata(layout, metadata.DIAGNOSIS_FILE_NAMES)
    if diagnosis_path is None:
        report.add("note", layout.metadata_dirs[0], "no diagnosis file: diagnosis is missing for every patient")
        patients["diagnosis"] = None
    else:
        patients = patients.merge(metadata.read_diagnosis_file(diagnosis_path), on="patient", how="left")
        for patient in patients.loc[patients["diagnosis"].isna(), "patient"]:
            report.add("note", diagnosis_path, f"no diagnosis for patient {patient}")
    demographic_path = find_metadata(layout, metadata.DEMOGRAPHIC_FILE_NAMES)
    if demographic_path is not None:
        patients = patients.merge(metadata.read_demographic_file(demographic_path), on="patient", how="left")
    counts = recordings.groupby("patient").agg(n_recordings=("recording", "size"), n_cycles=("n_cycles", "sum"),
                                               devices=("device", lambda d: ",".join(sorted(set(d)))))
    return patients.merge(counts, on="patient", how="left")


def _cycles_table(cycle_frames: list[pd.DataFrame], recordings: pd.DataFrame) -> pd.DataFrame:
    cycles = pd.concat(cycle_frames, ignore_index=True)
    context = recordings[["recording", "patient", "recording_index", "chest_location", "acquisition_mode",
                          "device", "diagnosis", "split"]]
    cycles = cycles.merge(context, on="recording", how="left")
    cycles["duration"] = cycles["end"] - cycles["start"]
    cycles["label"] = pd.Categorical(label_from_flags(cycles["crackle"], cycles["wheeze"]), categories=CLASS_ORDER)
    cycles["label_id"] = cycles["label"].cat.codes.astype("int64")
    cycles["device"] = pd.Categorical(cycles["device"], categories=DEVICES)
    return cycles[list(CYCLE_COLUMNS)].sort_values(["recording", "cycle_index"], ignore_index=True)


def _read_marker(root: Path) -> dict | None:
    marker = root / SYNTHETIC_MARKER
    if not marker.is_file():
        return None
    try:
        return json.loads(marker.read_text())
    except json.JSONDecodeError as error:
        raise DataError(marker, f"synthetic-dataset marker is not valid JSON ({error})") from error
