"""Getting the ICBHI 2017 database (the library behind ``respirenet data download [DIR]``).

The release is one zip (``ICBHI_final_database.zip``, 0.6-2 GB by the accounts found, with no
published size or checksum) and three small files published beside it: the official split,
the diagnosis and the demographic file. :func:`download_icbhi` fetches them with pooch
(progress bar, retries; an interrupted transfer resumes with an HTTP Range request where the
server allows it and starts over where it does not), extracts the zip into a temporary folder
beside ``DIR`` and renames it into place only when complete, then checks the result against
the package's manifest (:mod:`respirelib.data.verify`): with no published checksum, that check is
what makes a copy trustworthy, from this address or any other.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from respirelib.data import metadata
from respirelib.errors import DataError
from respirelib.runs import REPO_ROOT
from respirelib.storage import atomic_directory, refuse_existing_dir
from respirelib.data.verify import SYSTEM_FILES, Verdict, verify_icbhi

DEFAULT_URL = "https://bhichallenge.med.auth.gr/sites/default/files/ICBHI_final_database/ICBHI_final_database.zip"
URL_ENV = "RESPIRENET_ICBHI_URL"
# Published beside the zip, under these names (the Kaggle copy renamed two of them).
METADATA_FILES = {"split": "ICBHI_challenge_train_test.txt", "diagnosis": "ICBHI_Challenge_diagnosis.txt",
                  "demographic": "ICBHI_Challenge_demographic_information.txt"}
METADATA_NAMES = {"split": metadata.SPLIT_FILE_NAMES, "diagnosis": metadata.DIAGNOSIS_FILE_NAMES,
                  "demographic": metadata.DEMOGRAPHIC_FILE_NAMES}
DEFAULT_DIR = REPO_ROOT / "data" / "ICBHI"
_CHUNK = 1 << 16  # bytes of a chunk cut short by a dropped connection are lost: keep chunks small


class DownloadError(RuntimeError):
    """A transfer failed in a way a retry will not fix (not a ``ValueError``: pooch retries those)."""


class TransferFailed(DownloadError):
    """Every attempt to reach the server or to finish the transfer failed (offline, unreachable, cut off)."""


def resolve_url(url: str | None = None) -> str:
    """``url`` if given, else ``$RESPIRENET_ICBHI_URL``, else the challenge's own address."""
    return url or os.environ.get(URL_ENV) or DEFAULT_URL


def _local_path(url: str) -> Path | None:
    """The file a ``file://`` URL or a plain path names; ``None`` for a network address."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    return Path(url) if len(parsed.scheme) <= 1 else None  # no scheme, or a Windows drive letter


def _tls_error(url: str, error: Exception) -> DownloadError:
    host = urlparse(url).hostname
    return DownloadError(
        f"{url}: the TLS certificate of {host} could not be verified ({error}).\n"
        "The ICBHI site's certificate has had problems before; nothing was downloaded. You can:\n"
        "  - download ICBHI_final_database.zip with a browser and run\n"
        "    `respirenet data download DIR --url /path/to/ICBHI_final_database.zip`;\n"
        f"  - use a mirror: `--url URL` or the {URL_ENV} environment variable;\n"
        "  - accept a connection whose certificate is not checked: add `--insecure`.\n"
        "Whichever you choose, the content check that runs after extraction (`respirenet data verify`) "
        "is what tells you the copy is the release.")


def _content_range_start(header: str | None) -> int | None:
    """The first byte of a ``Content-Range: bytes START-END/TOTAL`` header."""
    if not header or not header.startswith("bytes ") or "-" not in header:
        return None
    start = header[len("bytes "):].split("-", 1)[0]
    return int(start) if start.isdigit() else None


class ResumableDownloader:
    """A pooch downloader that keeps what it received in ``partial`` and resumes from there.

    Each attempt asks for the bytes after those already in ``partial`` (``Range``, with
    ``If-Range`` so a file changed on the server is fetched afresh); a server that answers
    with the whole file (200) is read from the start. The complete file is moved to
    pooch's output name. Client errors (4xx) and certificate failures raise
    :class:`DownloadError` at once; other failures are left to pooch's retries.
    """

    def __init__(self, partial: Path, *, progressbar: bool = True, verify_tls: bool = True, timeout: float = 60):
        self.partial, self.progressbar, self.verify_tls, self.timeout = Path(partial), progressbar, verify_tls, timeout
        self.validator_file = self.partial.with_name(self.partial.name + ".validator")

    def _request(self, url: str, offset: int):
        import requests

        headers = {"Accept-Encoding": "identity"}  # byte offsets must count the file's own bytes
        if offset:
            headers["Range"] = f"bytes={offset}-"
            if self.validator_file.is_file():
                headers["If-Range"] = self.validator_file.read_text()
        try:
            response = requests.get(url, headers=headers, stream=True, timeout=self.timeout, verify=self.verify_tls)
        except requests.exceptions.SSLError as error:
            raise _tls_error(url, error) from error
        if 400 <= response.status_code < 500 and response.status_code not in (408, 416, 429):
            response.close()
            raise DownloadError(f"{url}: the server answered {response.status_code} {response.reason}")
        return response

    def __call__(self, url: str, output_file, pooch=None) -> None:
        from tqdm.auto import tqdm

        offset = self.partial.stat().st_size if self.partial.is_file() else 0
        response = self._request(url, offset)
        if response.status_code == 416:  # nothing after offset: complete already, or a different file now
            total = response.headers.get("Content-Range", "").rpartition("/")[2]
            response.close()
            if total.isdigit() and int(total) == offset:
                os.replace(self.partial, output_file)
                return
            offset = 0
            response = self._request(url, 0)
        with response:
            response.raise_for_status()
            resumed = offset and response.status_code == 206 and \
                _content_range_start(response.headers.get("Content-Range")) == offset
            if not resumed:  # the server sent the whole file: start over
                offset = 0
                validator = response.headers.get("ETag") or response.headers.get("Last-Modified")
                if validator and not validator.startswith("W/"):  # If-Range needs a strong validator
                    self.validator_file.write_text(validator)
                else:
                    self.validator_file.unlink(missing_ok=True)
            length = response.headers.get("Content-Length")
            total = offset + int(length) if length and length.isdigit() else None
            self.partial.parent.mkdir(parents=True, exist_ok=True)
            with self.partial.open("ab" if resumed else "wb") as stream, \
                    tqdm(total=total, initial=offset, unit="B", unit_scale=True, unit_divisor=1024,
                         desc=Path(urlparse(url).path).name, disable=not self.progressbar, file=sys.stderr) as bar:
                for chunk in response.iter_content(chunk_size=_CHUNK):
                    stream.write(chunk)
                    bar.update(len(chunk))
        os.replace(self.partial, output_file)
        self.validator_file.unlink(missing_ok=True)


def fetch(url: str, directory: str | Path, *, retries: int = 3, progress: bool = True,
          verify_tls: bool = True) -> Path:
    """Download ``url`` into ``directory`` (kept there: a second call reuses it) and return its path.

    Raises
    ------
    DownloadError
        On a certificate failure, a client error, or when every attempt failed; what was
        received stays in ``NAME.part`` and the next call resumes from it.
    """
    import pooch
    import requests

    directory = Path(directory)
    name = Path(urlparse(url).path).name or "download"
    downloader = ResumableDownloader(directory / f"{name}.part", progressbar=progress, verify_tls=verify_tls)
    fetcher = pooch.create(path=directory, base_url="", registry={name: None}, urls={name: url},
                           retry_if_failed=retries)
    logger = pooch.get_logger()
    level = logger.level
    if not progress:
        logger.setLevel("WARNING")  # pooch's "Downloading ..." lines; the progress bar says as much
    try:
        return Path(fetcher.fetch(name, downloader=downloader))
    except requests.exceptions.RequestException as error:
        attempts = f"{retries + 1} attempt{'s' if retries else ''}"
        received = downloader.partial.stat().st_size if downloader.partial.is_file() else 0
        if received:
            kept = f"the {received / 1e6:.1f} MB received are kept in {downloader.partial}: the same command resumes"
        else:  # nothing came: leave no empty folder or file behind
            downloader.partial.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                directory.rmdir()  # only if empty
            kept = "nothing was received"
        raise TransferFailed(f"{url}: download failed after {attempts} ({error}); {kept}") from error
    finally:
        logger.setLevel(level)


@dataclass
class DownloadResult:
    folder: Path
    archive: Path
    downloaded: bool
    verdict: Verdict
    notes: list[str]


def _metadata_in_archive(names: list[str]) -> set[str]:
    basenames = {Path(name).name for name in names}
    return {kind for kind, known in METADATA_NAMES.items() if basenames & set(known)}


def _extract(archive: Path, out_dir: Path, extra_files: list[Path]) -> None:
    """Unpack ``archive`` and ``extra_files`` into a temporary folder beside ``out_dir``, then rename it.

    An interruption leaves at most the hidden temporary folder, never a partial ``out_dir``.
    """
    with atomic_directory(out_dir, hint=_existing_hint(out_dir)) as staging:
        member = None
        try:
            with zipfile.ZipFile(archive) as zipped:
                for member in zipped.infolist():
                    if not set(Path(member.filename).parts) & set(SYSTEM_FILES):
                        zipped.extract(member, staging)  # checks each member's CRC-32
        except (zipfile.BadZipFile, zlib.error, EOFError) as error:
            where = f" at {member.filename}" if member is not None else ""
            raise DataError(archive, f"not a complete zip archive ({error}{where}): the file is truncated or "
                                     "corrupt") from error
        for path in extra_files:
            shutil.copy2(path, staging / path.name)


def _existing_hint(out_dir: Path) -> str:
    return f"check it with `respirenet data verify {out_dir}` or give another folder"


def download_icbhi(out_dir: str | Path = DEFAULT_DIR, *, url: str | None = None,
                   downloads_dir: str | Path | None = None, retries: int = 3, progress: bool = True,
                   verify_tls: bool = True) -> DownloadResult:
    """Download, extract and check the ICBHI 2017 database.

    Parameters
    ----------
    out_dir : str or Path
        The folder to create (it must not exist, or be empty): the zip's content plus
        the split, diagnosis and demographic files.
    url : str, optional
        The zip's address, a ``file://`` URL or a local path (default: :func:`resolve_url`).
        The metadata files are fetched from the same folder when the zip lacks them.
    downloads_dir : str or Path, optional
        Where the zip is kept (default: ``DIR-download`` beside ``out_dir``).
    retries : int
        Attempts after the first; each resumes where the last stopped.
    verify_tls : bool
        ``False`` skips the certificate check (the content check still runs).

    Returns
    -------
    DownloadResult
        With the :class:`~respirelib.data.verify.Verdict` of the extracted folder.
    """
    out_dir = Path(out_dir)
    if retries < 0:
        raise ValueError(f"retries must be 0 or more, not {retries}")
    refuse_existing_dir(out_dir, hint=_existing_hint(out_dir))  # before downloading anything
    url = resolve_url(url)
    downloads_dir = Path(downloads_dir) if downloads_dir else out_dir.with_name(f"{out_dir.name}-download")
    local = _local_path(url)
    if local is not None and not local.is_file():
        raise FileNotFoundError(f"{local}: no such file (given as the ICBHI zip's address)")
    try:
        archive = local or fetch(url, downloads_dir, retries=retries, progress=progress, verify_tls=verify_tls)
    except TransferFailed as error:
        name = Path(urlparse(url).path).name or "ICBHI_final_database.zip"
        raise TransferFailed(f"{error}.\nOffline, or the server out of reach? Download {name} with a browser "
                             f"(from {url} or a mirror), put the split, diagnosis and demographic files beside it "
                             f"if you have them, and run:\n  respirenet data download {out_dir} --url "
                             f"/path/to/{name}") from error
    try:
        with zipfile.ZipFile(archive) as zipped:
            in_archive = _metadata_in_archive(zipped.namelist())
    except zipfile.BadZipFile as error:
        _discard(archive, local)
        raise DataError(archive, f"not a complete zip archive ({error}): the file is truncated or corrupt"
                        + ("" if local else "; it was deleted, run the command again to download it afresh")) \
            from error
    extra, notes = [], []
    for kind in sorted(set(METADATA_FILES) - in_archive):
        name = METADATA_FILES[kind]
        try:
            if local is not None:
                found = [local.parent / n for n in METADATA_NAMES[kind] if (local.parent / n).is_file()]
                if not found:
                    raise FileNotFoundError(f"no {kind} file beside {local}")
                extra.append(found[0])
            else:
                extra.append(fetch(url.rsplit("/", 1)[0] + "/" + name, downloads_dir, retries=retries,
                                   progress=progress, verify_tls=verify_tls))
        except (DownloadError, FileNotFoundError) as error:
            notes.append(f"{name} not fetched: {error}")
    try:
        _extract(archive, out_dir, extra)
    except DataError:
        _discard(archive, local)
        raise
    return DownloadResult(folder=out_dir, archive=archive, downloaded=local is None, verdict=verify_icbhi(out_dir),
                          notes=notes)


def _discard(archive: Path, local: Path | None) -> None:
    """Delete a corrupt download so the next run fetches it afresh (never a file the user gave)."""
    if local is None:
        archive.unlink(missing_ok=True)
