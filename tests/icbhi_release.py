"""An ICBHI-release-shaped zip built from the real annotation files, and a local HTTP server to serve it.

The zip holds the 920 real annotation files from ``../shared`` and, for each, silent 4 kHz
PCM_16 audio a quarter second longer than its last cycle (about 1 MB zipped, 150 MB
extracted). Built once per session; fixtures that need ``../shared`` skip without it.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import ssl
import subprocess
import threading
import zipfile
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from respirelib.data.annotations import parse_annotation_file
from respirelib.data.names import looks_like_recording
from tests.conftest import SHARED_ANNOTATIONS, require_shared

AUDIO_RATE = 4000
RECORDINGS = "ICBHI_final_database"
# The files published beside the zip, as the challenge site names them.
SPLIT, DIAGNOSIS, DEMOGRAPHIC = ("ICBHI_challenge_train_test.txt", "ICBHI_Challenge_diagnosis.txt",
                                 "ICBHI_Challenge_demographic_information.txt")


def build_zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zipped:
        for name, data in members.items():  # a fixed date: the same members give the same bytes
            zipped.writestr(zipfile.ZipInfo(name, date_time=(2017, 3, 1, 0, 0, 0)), data,
                            compress_type=zipfile.ZIP_DEFLATED, compresslevel=1)
    return buffer.getvalue()


def wav_bytes(seconds: float, *, sr: int = AUDIO_RATE, noise: bool = False) -> bytes:
    """A mono PCM_16 WAV: silence (zips to almost nothing), or seeded noise (does not compress)."""
    n = int(round(seconds * sr))
    samples = np.random.default_rng(n).integers(-2000, 2000, n, dtype=np.int16) if noise else np.zeros(n, np.int16)
    buffer = io.BytesIO()
    sf.write(buffer, samples, sr, subtype="PCM_16", format="WAV")
    return buffer.getvalue()


@dataclass
class Release:
    """What the fake challenge site serves: the zip's members, the zip, and the three separate files."""

    members: dict[str, bytes]
    zip_bytes: bytes
    metadata: dict[str, bytes]


@pytest.fixture(scope="session")
def release() -> Release:
    require_shared()
    members = {}
    for path in sorted(SHARED_ANNOTATIONS.glob("*.txt")):
        if looks_like_recording(path.stem):
            cycles, _ = parse_annotation_file(path)
            members[f"{RECORDINGS}/{path.name}"] = path.read_bytes()
            members[f"{RECORDINGS}/{path.stem}.wav"] = wav_bytes(float(cycles["end"].max()) + 0.25)
    diagnosis = (SHARED_ANNOTATIONS / "patient_diagnosis.csv").read_text().splitlines()
    metadata = {SPLIT: (SHARED_ANNOTATIONS / SPLIT).read_bytes(),
                # the site's diagnosis file is tab separated: same table, other bytes
                DIAGNOSIS: "".join(line.replace(",", "\t") + "\r\n" for line in diagnosis).encode(),
                DEMOGRAPHIC: (SHARED_ANNOTATIONS / "demographic_info.txt").read_bytes()}
    return Release(members=members, zip_bytes=build_zip(members), metadata=metadata)


@pytest.fixture(scope="session")
def small_release(release) -> Release:
    """The first five recordings only, with noise for audio (a zip of several 64 KiB chunks): for the
    transfer's mechanics, where the content check is not the point."""
    members = {}
    for name, data in list(release.members.items())[:10]:
        members[name] = wav_bytes(sf.info(io.BytesIO(data)).duration, noise=True) if name.endswith(".wav") else data
    return Release(members=members, zip_bytes=build_zip(members), metadata=release.metadata)


def write_folder(folder: Path, release: Release) -> Path:
    """The release as a user would have it after unzipping (the official layout)."""
    with zipfile.ZipFile(io.BytesIO(release.zip_bytes)) as zipped:
        zipped.extractall(folder)
    for name, data in release.metadata.items():
        (folder / name).write_bytes(data)
    return folder


@pytest.fixture(scope="session")
def genuine_folder(release, tmp_path_factory) -> Path:
    """A release-shaped folder in the official layout; shared, treat it as read-only (copy with link_copy)."""
    return write_folder(tmp_path_factory.mktemp("genuine") / "ICBHI", release)


def link_copy(source: Path, target: Path) -> Path:
    """Copy a folder as hard links (fast); replace a file (unlink first) before changing it."""
    shutil.copytree(source, target, copy_function=lambda src, dst: Path(dst).hardlink_to(src))
    return target


@dataclass
class Served:
    """The server's state: what it serves, what it was asked, and how it misbehaves."""

    files: dict[str, bytes] = field(default_factory=dict)
    requests: list[dict] = field(default_factory=list)
    ranges: bool = True
    cut_once: dict[str, int] = field(default_factory=dict)  # path -> bytes sent before the connection drops
    base_url: str = ""

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        served: Served = self.server.served
        data = served.files.get(self.path)
        record = {"path": self.path, "range": self.headers.get("Range"), "if_range": self.headers.get("If-Range")}
        served.requests.append(record)
        if data is None:
            record["status"] = 404
            self.send_error(404)
            return
        etag = f'"{hashlib.sha256(data).hexdigest()[:16]}"'
        start, status = 0, 200
        wanted = self.headers.get("Range")
        if served.ranges and wanted and wanted.startswith("bytes=") and wanted.endswith("-") \
                and self.headers.get("If-Range", etag) == etag:
            start = int(wanted[len("bytes="):-1])
            if start >= len(data):
                record["status"] = 416
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.end_headers()
                return
            status = 206
        record["status"] = status
        body = data[start:]
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", etag)
        if served.ranges:
            self.send_header("Accept-Ranges", "bytes")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.end_headers()
        cut = served.cut_once.pop(self.path, None)
        self.wfile.write(body if cut is None else body[:cut])
        if cut is not None:
            self.wfile.flush()
            self.close_connection = True


def _serve(served: Served, context: ssl.SSLContext | None = None):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.served = served
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    served.base_url = f"{'https' if context else 'http'}://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return server, thread


@pytest.fixture
def http_server():
    """A real HTTP server on 127.0.0.1 (its own thread) serving ``Served.files``, with Range support."""
    served = Served()
    server, thread = _serve(served)
    yield served
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def https_server_self_signed(tmp_path):
    """The same server behind TLS with a self-signed certificate (one a client cannot verify)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a self-signed certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    served = Served()
    server, thread = _serve(served, context)
    yield served
    server.shutdown()
    server.server_close()
    thread.join()
