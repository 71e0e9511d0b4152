"""Where an ICBHI copy keeps its files: the one place that knows the layouts people have.

- the official zip: recordings in ``ICBHI_final_database/``, metadata beside it or inside;
- the Kaggle copy: ``Respiratory_Sound_Database/audio_and_txt_files/`` (sometimes with the
  ``Respiratory_Sound_Database`` folder doubled), ``patient_diagnosis.csv`` and
  ``demographic_info.txt`` in the folders above it;
- a flat folder: everything in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from respirelib.data import metadata
from respirelib.data.audio import AUDIO_SUFFIXES
from respirelib.data.names import SYNTHETIC_MARKER
from respirelib.data.names import looks_like_recording

RECORDINGS_SUBDIRS = ("ICBHI_final_database", "audio_and_txt_files",
                      "Respiratory_Sound_Database/audio_and_txt_files",
                      "Respiratory_Sound_Database/Respiratory_Sound_Database/audio_and_txt_files")
KNOWN_EXTRA_FILES = ("filename_format.txt", "README.md", "README.txt")


@dataclass(frozen=True)
class Layout:
    """The folder holding the recordings, and the folders searched for metadata (outermost first)."""

    recordings_dir: Path
    metadata_dirs: tuple[Path, ...]

    def is_layout_dir(self, path: Path) -> bool:
        """True for the folders of the layout itself (not content to list as unexpected)."""
        return path == self.recordings_dir or path in self.metadata_dirs


def find_layout(root: str | Path) -> Layout:
    """The first known layout found under ``root``; a flat folder when none matches."""
    root = Path(root)
    for sub in RECORDINGS_SUBDIRS:
        candidate = root / sub
        if candidate.is_dir():
            parts = Path(sub).parts
            between = tuple(root.joinpath(*parts[:depth]) for depth in range(1, len(parts)))
            return Layout(candidate, (root, *between, candidate))
    return Layout(root, (root,))


def find_metadata(layout: Layout, names: tuple[str, ...]) -> Path | None:
    """The first of ``names`` present in the layout's metadata folders, or ``None``."""
    for directory in layout.metadata_dirs:
        for name in names:
            if (directory / name).is_file():
                return directory / name
    return None


@dataclass
class Scan:
    """A layout's files sorted by role (see :func:`scan_layout`)."""

    annotations: dict[str, Path]
    audio: dict[str, Path]
    second_audio: list[tuple[Path, Path]]
    unexpected: list[Path]


def known_file_names() -> set[str]:
    """Names of the files an ICBHI copy may hold besides its recordings (metadata and known extras)."""
    return {*metadata.SPLIT_FILE_NAMES, *metadata.DIAGNOSIS_FILE_NAMES, *metadata.DEMOGRAPHIC_FILE_NAMES,
            *metadata.DIFFERENCES_FILE_NAMES, SYNTHETIC_MARKER, *KNOWN_EXTRA_FILES}


def scan_layout(layout: Layout) -> Scan:
    """Sort the layout's files into annotations and audio by stem, and everything else.

    Files of :func:`known_file_names` (metadata and known extras) are left out; a second
    audio file for the same stem lands in ``second_audio`` as (that file, the one kept);
    files and folders that are neither go to ``unexpected``.
    """
    scan = Scan({}, {}, [], [])
    known_names = known_file_names()
    for directory in dict.fromkeys([layout.recordings_dir, *layout.metadata_dirs]):
        for path in sorted(directory.iterdir()):
            if path.name in known_names or (path.is_dir() and layout.is_layout_dir(path)):
                continue
            is_recording_file = (directory == layout.recordings_dir and path.is_file()
                                 and looks_like_recording(path.stem))
            if is_recording_file and path.suffix == ".txt":
                scan.annotations[path.stem] = path
            elif is_recording_file and path.suffix.lower() in AUDIO_SUFFIXES:
                if path.stem in scan.audio:
                    scan.second_audio.append((path, scan.audio[path.stem]))
                else:
                    scan.audio[path.stem] = path
            else:
                scan.unexpected.append(path)
    return scan
