"""`respirenet data download`: a real HTTP server on 127.0.0.1 serves a release-shaped zip (no internet)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from respirelib.apps.cli import main
from respirelib.data.download import URL_ENV, DownloadError, ResumableDownloader, download_icbhi
from respirelib.errors import DataError
from respirelib.data.verify import VERIFIED_LABEL
from tests.icbhi_release import (DEMOGRAPHIC, DIAGNOSIS, RECORDINGS, SPLIT, build_zip,  # noqa: F401
                                 http_server, https_server_self_signed, release, small_release)

ZIP = "ICBHI_final_database.zip"


def _serve(served, release, zip_bytes=None, folder="site") -> str:
    """Put the zip and the three separate files on the server; return the zip's address."""
    served.files[f"/{folder}/{ZIP}"] = release.zip_bytes if zip_bytes is None else zip_bytes
    for name, data in release.metadata.items():
        served.files[f"/{folder}/{name}"] = data
    return served.url(f"{folder}/{ZIP}")


def _extracted_exactly(out: Path, release) -> bool:
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    return files == sorted([*release.members, *release.metadata])


def _nothing_left_beside(out: Path) -> None:
    assert not out.exists()
    assert [p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")] == []


def test_served_whole_through_the_environment_variable(http_server, release, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(URL_ENV, _serve(http_server, release))
    out = tmp_path / "data" / "ICBHI"
    assert main(["data", "download", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert f"{VERIFIED_LABEL}: 1843 genuine" in printed and f"make demo DATA={out}" in printed
    assert sorted(p.name for p in out.iterdir()) == sorted([RECORDINGS, SPLIT, DIAGNOSIS, DEMOGRAPHIC])
    assert len(list((out / RECORDINGS).iterdir())) == 1840
    assert (tmp_path / "data" / "ICBHI-download" / ZIP).read_bytes() == release.zip_bytes
    assert [r["path"] for r in http_server.requests if r["path"].endswith(ZIP)] == [f"/site/{ZIP}"]
    assert sorted(p.name for p in out.parent.iterdir()) == ["ICBHI", "ICBHI-download"]  # no staging folder left


def test_truncated_zip_is_an_error_and_leaves_no_folder(http_server, release, tmp_path, capsys):
    url = _serve(http_server, release, release.zip_bytes[: len(release.zip_bytes) // 2])
    out = tmp_path / "ICBHI"
    with pytest.raises(DataError, match="truncated or corrupt") as caught:
        download_icbhi(out, url=url, progress=False, retries=0)
    assert caught.value.path.name == ZIP
    _nothing_left_beside(out)
    assert not (tmp_path / "ICBHI-download" / ZIP).exists()  # deleted, so a rerun downloads it afresh
    assert main(["data", "download", str(out), "--url", url, "--quiet"]) == 2
    assert "truncated or corrupt" in capsys.readouterr().err


def test_one_byte_changed_in_the_zip_is_caught_by_its_checksums(http_server, release, tmp_path):
    member = f"{RECORDINGS}/160_1b2_Ar_mc_AKGC417L.txt"
    with zipfile.ZipFile(io.BytesIO(release.zip_bytes)) as zipped:
        info = zipped.getinfo(member)
    header = release.zip_bytes[info.header_offset:info.header_offset + 30]
    data_start = info.header_offset + 30 + int.from_bytes(header[26:28], "little") + \
        int.from_bytes(header[28:30], "little")
    damaged = bytearray(release.zip_bytes)
    damaged[data_start + info.compress_size // 2] ^= 0x01  # one bit, inside that member's compressed data
    url = _serve(http_server, release, bytes(damaged))
    out = tmp_path / "ICBHI"
    with pytest.raises(DataError, match="not a complete zip archive") as caught:
        download_icbhi(out, url=url, progress=False, retries=0)
    assert f"at {member}" in str(caught.value)
    _nothing_left_beside(out)


def test_one_byte_changed_in_an_annotation_is_named_by_the_content_check(http_server, release, tmp_path, capsys):
    members = dict(release.members)
    name = f"{RECORDINGS}/160_1b2_Ar_mc_AKGC417L.txt"
    members[name] = members[name].replace(b"\t0\t", b"\t1\t", 1)
    assert members[name] != release.members[name]
    url = _serve(http_server, release, build_zip(members))
    out = tmp_path / "ICBHI"
    assert main(["data", "download", str(out), "--url", url, "--quiet"]) == 1
    captured = capsys.readouterr()
    assert "[modified]" in captured.out and "160_1b2_Ar_mc_AKGC417L.txt" in captured.out
    assert "ICBHI-like, 1 file differs from the release" in captured.err
    assert out.is_dir()  # extracted all the same: the user decides, and `data verify` says the same


def test_cut_off_mid_transfer_then_resumed_by_the_next_run(http_server, release, tmp_path):
    url = _serve(http_server, release)
    cut = len(release.zip_bytes) * 2 // 5
    http_server.cut_once[f"/site/{ZIP}"] = cut
    out = tmp_path / "ICBHI"
    with pytest.raises(DownloadError, match="resume") as caught:
        download_icbhi(out, url=url, progress=False, retries=0)
    partial = tmp_path / "ICBHI-download" / f"{ZIP}.part"
    received = partial.stat().st_size  # whole chunks read before the connection dropped
    assert str(partial) in str(caught.value) and 0 < received <= cut
    assert partial.read_bytes() == release.zip_bytes[:received]
    _nothing_left_beside(out)

    result = download_icbhi(out, url=url, progress=False, retries=0)
    assert result.verdict.ok and result.archive.read_bytes() == release.zip_bytes and not partial.exists()
    zip_requests = [r for r in http_server.requests if r["path"] == f"/site/{ZIP}"]
    assert [(r["range"], r["status"]) for r in zip_requests] == [(None, 200), (f"bytes={received}-", 206)]
    assert zip_requests[1]["if_range"]  # the resumed part must come from the same file


def test_retry_starts_over_when_the_server_ignores_ranges(http_server, small_release, tmp_path):
    release = small_release
    url = _serve(http_server, release)
    http_server.ranges = False
    http_server.cut_once[f"/site/{ZIP}"] = len(release.zip_bytes) * 3 // 4
    result = download_icbhi(tmp_path / "ICBHI", url=url, progress=False, retries=1)
    assert result.archive.read_bytes() == release.zip_bytes and _extracted_exactly(result.folder, release)
    zip_requests = [r for r in http_server.requests if r["path"] == f"/site/{ZIP}"]
    assert len(zip_requests) == 2 and zip_requests[1]["range"] and zip_requests[1]["status"] == 200


def test_certificate_failure_says_what_to_do(https_server_self_signed, small_release, tmp_path, capsys):
    url = _serve(https_server_self_signed, small_release)
    out = tmp_path / "ICBHI"
    assert main(["data", "download", str(out), "--url", url, "--quiet", "--retries", "3"]) == 2
    err = capsys.readouterr().err
    assert "TLS certificate of 127.0.0.1 could not be verified" in err
    assert "--url /path/to/ICBHI_final_database.zip" in err and URL_ENV in err and "--insecure" in err
    _nothing_left_beside(out)
    assert not (tmp_path / "ICBHI-download" / f"{ZIP}.part").exists()

    with pytest.warns(Warning):  # urllib3's InsecureRequestWarning
        result = download_icbhi(out, url=url, progress=False, verify_tls=False)
    assert _extracted_exactly(result.folder, small_release)


def test_a_local_zip_and_the_files_beside_it(small_release, tmp_path):
    release = small_release
    source = tmp_path / "from-browser"
    source.mkdir()
    (source / ZIP).write_bytes(release.zip_bytes)
    for name, data in release.metadata.items():
        (source / name).write_bytes(data)
    result = download_icbhi(tmp_path / "ICBHI", url=str(source / ZIP), progress=False)
    assert _extracted_exactly(result.folder, release) and not result.downloaded and (source / ZIP).is_file()
    assert not (tmp_path / "ICBHI-download").exists()


def test_an_existing_folder_is_never_overwritten(http_server, release, tmp_path):
    url = _serve(http_server, release)
    out = tmp_path / "ICBHI"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="respirenet data verify"):
        download_icbhi(out, url=url, progress=False)
    assert (out / "mine.txt").read_text() == "keep me" and http_server.requests == []


def test_missing_separate_files_are_reported_not_fatal(http_server, small_release, tmp_path):
    url = _serve(http_server, small_release)
    del http_server.files[f"/site/{DEMOGRAPHIC}"]
    result = download_icbhi(tmp_path / "ICBHI", url=url, progress=False, retries=2)
    assert any(DEMOGRAPHIC in note and "404" in note for note in result.notes)
    metadata_findings = [(f.category, f.path) for f in result.verdict.findings if not f.path.endswith((".wav", ".txt"))
                         or "ICBHI" in f.path or f.path.startswith("demographic")]
    assert metadata_findings == [("missing", "demographic_info.txt")]
    demographic_requests = [r for r in http_server.requests if r["path"].endswith(DEMOGRAPHIC)]
    assert len(demographic_requests) == 1  # a 404 is not retried


def test_archivers_system_files_are_not_extracted(http_server, small_release, tmp_path):
    members = {**small_release.members, "__MACOSX/._x": b"junk", f"{RECORDINGS}/.DS_Store": b"junk"}
    url = _serve(http_server, small_release, build_zip(members))
    result = download_icbhi(tmp_path / "ICBHI", url=url, progress=False)
    assert _extracted_exactly(result.folder, small_release)


def test_a_complete_partial_file_is_used_as_it_is(http_server, tmp_path):
    data = bytes(range(256)) * 40
    http_server.files["/f.bin"] = data
    partial = tmp_path / "f.bin.part"
    partial.write_bytes(data)
    ResumableDownloader(partial, progressbar=False)(http_server.url("f.bin"), tmp_path / "f.bin")
    assert (tmp_path / "f.bin").read_bytes() == data and not partial.exists()
    assert [r["status"] for r in http_server.requests] == [416]


def test_a_partial_file_of_a_file_since_changed_is_fetched_afresh(http_server, tmp_path):
    old, new = b"a" * 5000, b"b" * 8000
    partial = tmp_path / "f.bin.part"
    partial.write_bytes(old[:3000])
    partial.with_name("f.bin.part.validator").write_text('"etag-of-the-old-file"')
    http_server.files["/f.bin"] = new
    ResumableDownloader(partial, progressbar=False)(http_server.url("f.bin"), tmp_path / "f.bin")
    assert (tmp_path / "f.bin").read_bytes() == new
    assert [(r["range"], r["if_range"], r["status"]) for r in http_server.requests] == \
        [("bytes=3000-", '"etag-of-the-old-file"', 200)]
