"""The ICBHI 2017 release as a list of hashes: what a genuine copy must contain.

``icbhi_manifest.json`` (package data) holds the sha256 of each of the 920 annotation
files and of the split, diagnosis and demographic files, the number of cycles and the
end of the last cycle of each recording, the 91 older-release names and the expected
counts. It is written by ``tools/make_icbhi_manifest.py`` from the real annotation files
(``../shared/icbhi-annotations``) with :func:`build_manifest`; it holds no file content.

The split, diagnosis and demographic files are published separately from the zip, and
copies differ in format (the Kaggle copy's ``patient_diagnosis.csv`` against the site's
``ICBHI_Challenge_diagnosis.txt``), so besides the bytes' hash each has a hash of its
parsed content (:func:`metadata_content_sha256`): the same table in another format is
still the release's.
"""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path

from respirelib.data import metadata
from respirelib.data.annotations import parse_annotation_file
from respirelib.errors import DataError
from respirelib.data.layout import find_layout, find_metadata
from respirelib.data.names import looks_like_recording

MANIFEST_FILE = "icbhi_manifest.json"
MANIFEST_FORMAT = 1
SAMPLE_RATES = (4000, 10000, 44100)  # the rates the release's devices recorded at
METADATA_KINDS = {"split": metadata.SPLIT_FILE_NAMES, "diagnosis": metadata.DIAGNOSIS_FILE_NAMES,
                  "demographic": metadata.DEMOGRAPHIC_FILE_NAMES}


def file_sha256(path: str | Path) -> str:
    with Path(path).open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def metadata_content_sha256(kind: str, path: str | Path) -> str | None:
    """sha256 of a metadata file's parsed table in one canonical text form; ``None`` if it does not parse.

    ``kind`` is ``"split"``, ``"diagnosis"`` or ``"demographic"``. Line endings, separators,
    a header line and row order do not change the result; any changed value does.
    """
    try:
        if kind == "split":
            text = "".join(f"{name}\t{part}\n" for name, part in sorted(metadata.read_split_file(path).items()))
        elif kind == "diagnosis":
            text = metadata.read_diagnosis_file(path).sort_values("patient").to_csv(index=False, header=False)
        elif kind == "demographic":
            table = metadata.read_demographic_file(path).sort_values("patient")
            text = table.to_csv(index=False, header=False, na_rep="NA")
        else:
            raise ValueError(f"unknown metadata kind {kind!r} (expected one of {', '.join(METADATA_KINDS)})")
    except DataError:
        return None
    return hashlib.sha256(text.encode()).hexdigest()


def build_manifest(folder: str | Path) -> dict:
    """The manifest of the release whose annotation and metadata files are in ``folder``.

    Raises
    ------
    DataError
        If a metadata file is missing or an annotation file has a bad row: the
        manifest must describe a complete, clean release.
    """
    layout = find_layout(folder)
    annotations = {}
    for path in sorted(layout.recordings_dir.glob("*.txt")):
        if not looks_like_recording(path.stem):
            continue
        cycles, bad_rows = parse_annotation_file(path)
        if bad_rows:
            raise DataError(path, f"bad row at line {bad_rows[0][0]}: {bad_rows[0][1]}", line=bad_rows[0][0])
        annotations[path.stem] = {"sha256": file_sha256(path), "cycles": len(cycles),
                                  "last_end": float(cycles["end"].max())}
    files = {}
    for kind, names in METADATA_KINDS.items():
        path = find_metadata(layout, names)
        if path is None:
            raise DataError(layout.metadata_dirs[0], f"no {kind} file ({' or '.join(names)})")
        files[kind] = {"name": path.name, "sha256": file_sha256(path),
                       "content_sha256": metadata_content_sha256(kind, path)}
    differences = find_metadata(layout, metadata.DIFFERENCES_FILE_NAMES)
    if differences is None:
        raise DataError(layout.metadata_dirs[0], "no filename_differences.txt")
    by_key = {name.rsplit("_", 1)[0]: name for name in annotations}
    old_names = {}
    for old in sorted(metadata.read_filename_differences(differences)):
        current = by_key.get(old.rsplit("_", 1)[0])
        if current is None or current == old:
            raise DataError(differences, f"{old}: no recording of the release carries it under another name")
        old_names[old] = current
    split = metadata.read_split_file(find_metadata(layout, metadata.SPLIT_FILE_NAMES))
    return {
        "format": MANIFEST_FORMAT,
        "release": "ICBHI 2017 Respiratory Sound Database (ICBHI_final_database.zip and its separate "
                   "split, diagnosis and demographic files)",
        "counts": {"recordings": len(annotations), "annotation_files": len(annotations),
                   "audio_files": len(annotations), "patients": len({name[:3] for name in annotations}),
                   "cycles": sum(entry["cycles"] for entry in annotations.values()),
                   "split_entries": len(split), "old_release_names": len(old_names)},
        "sample_rates": list(SAMPLE_RATES),
        "metadata": files,
        "old_release_names": old_names,
        "annotations": annotations,
    }


def load_manifest() -> dict:
    """The manifest shipped inside the package."""
    text = resources.files("respirelib.data").joinpath(MANIFEST_FILE).read_text(encoding="utf-8")
    manifest = json.loads(text)
    if manifest.get("format") != MANIFEST_FORMAT:
        raise ValueError(f"respirelib/data/{MANIFEST_FILE}: format {manifest.get('format')!r}, expected {MANIFEST_FORMAT}")
    return manifest
