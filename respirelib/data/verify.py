"""Is this folder the ICBHI 2017 release? A check of every file against the package's manifest.

Annotation, split, diagnosis and demographic files are compared by sha256 with
:mod:`respirelib.data.manifest`. No checksum of the audio exists anywhere, so each recording's
audio is checked for what can be checked: it is there, readable, at one of the release's
sample rates, and at least as long as its last annotated cycle.

Every file lands in one category: ``genuine``, ``old-release name`` (the release's content
under a name of the older release, ``filename_differences.txt``: the loader reads it under
the current name, so it does not count against the copy), ``modified``, ``missing`` or
``unexpected``. A copy is verified when nothing is modified, missing or unexpected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from respirelib.data.audio import AudioInfo, audio_info
from respirelib.data.names import SYNTHETIC_MARKER
from respirelib.errors import AudioError, DataError
from respirelib.data.layout import Layout, find_layout, scan_layout
from respirelib.data.manifest import METADATA_KINDS, file_sha256, load_manifest, metadata_content_sha256
from respirelib.data.report import ReportEntry

CATEGORIES = ("genuine", "old-release name", "modified", "missing", "unexpected")
PROBLEM_CATEGORIES = ("modified", "missing", "unexpected")
VERIFIED_LABEL = "ICBHI 2017, verified"
# Within this many seconds past the audio's end load_icbhi clips a cycle (its end_tolerance
# default) instead of dropping it, so audio that short is still usable as the release's.
AUDIO_END_TOLERANCE = 0.1
# Left by file managers and archivers; never data, so never held against a copy.
SYSTEM_FILES = (".DS_Store", "Thumbs.db", "desktop.ini", "__MACOSX")


class Finding(ReportEntry):
    """One file's verdict: its category (a :class:`ReportEntry` whose action is the category), path and why."""

    @property
    def category(self) -> str:
        return self.action


@dataclass
class Verdict:
    """What :func:`verify_icbhi` found.

    Attributes
    ----------
    counts : dict
        Files per category (:data:`CATEGORIES`), annotation, metadata and audio files together.
    findings : list of Finding
        One per file that is not genuine.
    notes : list of str
        Facts that change nothing (audio absent, a metadata file in another format, ...).
    audio_checked : bool
        False when the folder holds no audio at all, or the check was asked to skip it
        (``audio_requested``); then only the text files are checked.
    audio_requested : bool
        Whether the audio was to be checked.
    synthetic : bool
        The folder carries the marker of a synthetic dataset (``respirenet synth``).
    """

    root: Path
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CATEGORIES, 0))
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    audio_checked: bool = False
    audio_requested: bool = True
    synthetic: bool = False

    def add(self, category: str, path: str | Path, detail: str) -> None:
        self.counts[category] += 1
        if category != "genuine":
            self.findings.append(Finding(category, str(path), detail))

    @property
    def n_differing(self) -> int:
        """Files modified, missing or unexpected."""
        return sum(self.counts[category] for category in PROBLEM_CATEGORIES)

    @property
    def ok(self) -> bool:
        return self.n_differing == 0

    @property
    def label(self) -> str:
        """``"ICBHI 2017, verified"``, ``"ICBHI 2017 subset (N genuine files, M of the release's absent)"``
        when every file present is the release's but some are missing (a sample, or a partial
        download), ``"ICBHI-like, N files differ from the release"`` when any is modified or
        unexpected, or, for a folder ``respirenet synth`` wrote, ``"SYNTHETIC dataset (...), N files
        differ from the release"``."""
        if self.ok:
            return VERIFIED_LABEL
        present = self.counts["genuine"] + self.counts["old-release name"]
        if not self.synthetic and present and self.n_differing == self.counts["missing"]:
            return f"ICBHI 2017 subset ({present} genuine files, {self.counts['missing']} of the release's absent)"
        n = self.n_differing
        differ = f"{n} file{' differs' if n == 1 else 's differ'} from the release"
        if self.synthetic:
            return f"SYNTHETIC dataset (written by respirenet synth, not the ICBHI recordings), {differ}"
        return f"ICBHI-like, {differ}"

    def summary_line(self) -> str:
        audio = ("audio checked" if self.audio_checked else "audio not checked (on request)"
                 if not self.audio_requested else "no audio in the folder, not checked")
        return f"{self.label}: " + ", ".join(f"{n} {category}" for category, n in self.counts.items()) + f"; {audio}"

    def to_dict(self) -> dict:
        return {"label": self.label, "verified": self.ok, "root": str(self.root), "synthetic": self.synthetic,
                "audio_checked": self.audio_checked,
                "counts": dict(self.counts), "notes": list(self.notes),
                "findings": [{"category": f.category, "path": f.path, "detail": f.detail} for f in self.findings]}

    def __str__(self) -> str:
        lines = [str(finding) for finding in self.findings] + [f"note: {note}" for note in self.notes]
        return "\n".join(lines + [self.summary_line()])


def _check_annotations(verdict: Verdict, manifest: dict, annotations: dict[str, Path]) -> dict[str, str]:
    """Hash every annotation file; return {release name: the stem it was found under}."""
    expected = manifest["annotations"]
    old_names = manifest["old_release_names"]
    found: dict[str, str] = {}
    for stem, path in sorted(annotations.items()):
        name = stem if stem in expected else old_names.get(stem)
        if name is None:
            verdict.add("unexpected", path, "not a recording of the ICBHI 2017 release")
            continue
        if name != stem and name in annotations:
            verdict.add("unexpected", path, f"the older-release name of {name}, which is also present")
            continue
        found[name] = stem
        if file_sha256(path) != expected[name]["sha256"]:
            verdict.add("modified", path, "content differs from the release's (sha256)")
        elif name != stem:
            verdict.add("old-release name", path, f"the release's {name}.txt under its older-release name")
        else:
            verdict.add("genuine", path, "")
    for name in sorted(set(expected) - set(found)):
        verdict.add("missing", f"{name}.txt", "annotation file of the release is not in the folder")
    return found


def _check_metadata(verdict: Verdict, manifest: dict, layout: Layout) -> None:
    for kind, names in METADATA_KINDS.items():
        present = [directory / name for directory in layout.metadata_dirs for name in names
                   if (directory / name).is_file()]
        if not present:
            verdict.add("missing", names[0], f"no {kind} file ({' or '.join(names)})")
            continue
        path, expected = present[0], manifest["metadata"][kind]
        if file_sha256(path) == expected["sha256"]:
            verdict.add("genuine", path, "")
        elif metadata_content_sha256(kind, path) == expected["content_sha256"]:
            verdict.add("genuine", path, "")
            verdict.notes.append(f"{path}: the release's {kind} table in another file format (same entries)")
        else:
            verdict.add("modified", path, f"{kind} entries differ from the release's")
        for other in present[1:]:
            verdict.notes.append(f"{other}: a second {kind} file, not read (the loader reads {path.name})")


def _check_audio(verdict: Verdict, manifest: dict, audio: dict[str, Path], found: dict[str, str],
                 infos: dict[Path, AudioInfo]) -> None:
    expected, old_names = manifest["annotations"], manifest["old_release_names"]
    rates = set(manifest["sample_rates"])
    old_name_of = {current: old for old, current in old_names.items()}
    used: set[str] = set()
    for name in sorted(expected):
        stem = next((s for s in (found.get(name), name, old_name_of.get(name)) if s is not None and s in audio), None)
        if stem is None:
            verdict.add("missing", f"{name}.wav", "audio of the release is not in the folder")
            continue
        used.add(stem)
        path = audio[stem]
        if path.suffix != ".wav":
            verdict.add("modified", path, f"the release has {name}.wav, not a {path.suffix} file")
            continue
        try:
            info = infos.get(path) or audio_info(path)
        except AudioError as error:
            verdict.add("modified", path, error.problem)
            continue
        last_end = expected[name]["last_end"]
        if info.sample_rate not in rates:
            verdict.add("modified", path, f"sample rate {info.sample_rate} Hz, not one of the release's "
                                          f"({', '.join(map(str, sorted(rates)))} Hz)")
        elif info.duration + AUDIO_END_TOLERANCE < last_end:
            verdict.add("modified", path, f"audio is {info.duration:.3f} s long; the release's last cycle of "
                                          f"this recording ends at {last_end:.3f} s")
        elif stem != name:
            verdict.add("old-release name", path, f"the release's {name}.wav under its older-release name")
        else:
            verdict.add("genuine", path, "")
    for stem in sorted(set(audio) - used):
        verdict.add("unexpected", audio[stem], "audio of no recording of the ICBHI 2017 release")


def verify_layout(root: str | Path, layout: Layout, *, audio: bool = True,
                  audio_infos: dict[Path, AudioInfo] | None = None, manifest: dict | None = None) -> Verdict:
    """Check the files of ``layout`` against the release manifest.

    Parameters
    ----------
    root : str or Path
        The folder the user named (for the report).
    layout : Layout
        Where its recordings and metadata are (:func:`respirelib.data.layout.find_layout`).
    audio : bool
        Check the audio files (when ``False``, or when the folder holds none, only
        the text files are checked and the verdict says so).
    audio_infos : dict, optional
        Headers already read (by the loader), keyed by path: not read again.
    manifest : dict, optional
        Default: the one shipped in the package.
    """
    manifest = manifest if manifest is not None else load_manifest()
    verdict = Verdict(root=Path(root), audio_requested=audio)
    scan = scan_layout(layout)
    found = _check_annotations(verdict, manifest, scan.annotations)
    _check_metadata(verdict, manifest, layout)
    if audio and scan.audio:
        verdict.audio_checked = True
        _check_audio(verdict, manifest, scan.audio, found, audio_infos or {})
        for path, kept in scan.second_audio:
            verdict.add("unexpected", path, f"a second audio file for {path.stem} (the loader reads {kept.name})")
    else:
        verdict.notes.append("no audio files in the folder: the audio is not checked" if audio else
                             "audio not checked (on request)")
    for path in scan.unexpected:
        if path.name in SYSTEM_FILES:
            verdict.notes.append(f"{path}: left by the operating system, not data")
        else:
            verdict.add("unexpected", path, f"{'folder' if path.is_dir() else 'file'} not part of the release")
    marker = Path(root) / SYNTHETIC_MARKER
    if marker.is_file():
        verdict.synthetic = True
        verdict.add("unexpected", marker, "marker of a synthetic dataset: this folder was generated, not downloaded")
    return verdict


def verify_icbhi(root: str | Path, *, audio: bool = True) -> Verdict:
    """Check an ICBHI folder (official zip layout, Kaggle layout or flat) against the release.

    Raises
    ------
    DataError
        If ``root`` is not a folder.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(root, "data folder does not exist" if not root.exists() else "not a folder")
    return verify_layout(root, find_layout(root), audio=audio)
