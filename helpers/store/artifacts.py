"""Saving and loading generated files safely.

Every write is atomic (a temporary file in the same folder, then ``os.replace``), so an
interrupted run never leaves a half-written file where a good one was. Beside each file
``NAME`` lies ``NAME.manifest.json``: its sha256, the shapes and dtypes it holds, the
notebook that produced it and the configuration it was produced with. Loading checks the
file against its manifest and, when asked, the configuration against the caller's, and
says which notebook to run when something is missing, stale or damaged.

Parameter files are pickles (the seeds' format, e.g. ``unaug_model_params.pkl``), read by
a restricted unpickler that admits NumPy arrays, dicts, lists, tuples, numbers and
strings only: a pickle that would import anything else is refused. A model saved with
:func:`save_model` has its architecture (input shape and list of layers) and the names of its
non-learned state arrays in the manifest, and :func:`load_model` rebuilds exactly that model,
params and state.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np

from helpers.core import config
from helpers.core.profiles import PROFILES
from helpers.nn.architectures import generic_architecture
from helpers.nn.model import Classifier


class ArtifactError(RuntimeError):
    """A generated file is missing, stale, damaged or unsafe."""


class ArtifactMissingError(ArtifactError, FileNotFoundError):
    """The file (or its manifest) does not exist yet."""


class ArtifactStaleError(ArtifactError):
    """The file was produced with another configuration than the one asked for."""


class ArtifactCorruptError(ArtifactError):
    """The file does not match its manifest."""


class UnsafePickleError(ArtifactError, pickle.UnpicklingError):
    """A pickle asked for something other than plain data."""


# (module, name) pairs a parameter pickle may reference: how NumPy rebuilds arrays,
# dtypes and scalars (module paths of NumPy 1.x and 2.x), and nothing that runs code.
_SAFE_GLOBALS = {
    (module, name)
    for module in ("numpy.core.multiarray", "numpy._core.multiarray")
    for name in ("_reconstruct", "scalar")
} | {
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("collections", "OrderedDict"),
    ("builtins", "complex"),
    ("_codecs", "encode"),  # protocol 2 spells bytes as encode(str, "latin1")
}


class _DataOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _SAFE_GLOBALS:
            return super().find_class(module, name)
        raise UnsafePickleError(
            f"refused to load {module}.{name}: parameter pickles may hold only NumPy arrays, "
            "dicts, lists, tuples, numbers and strings"
        )


def _check_plain_data(obj: Any, where: str) -> None:
    if isinstance(obj, np.ndarray):
        if obj.dtype.hasobject:
            raise UnsafePickleError(f"{where}: object arrays are not allowed in parameter pickles")
    elif isinstance(obj, Mapping):
        for key, value in obj.items():
            _check_plain_data(key, where)
            _check_plain_data(value, where)
    elif isinstance(obj, list | tuple):
        for item in obj:
            _check_plain_data(item, where)
    elif not isinstance(obj, str | bytes | int | float | complex | bool | np.generic | type(None)):
        raise UnsafePickleError(f"{where}: unexpected {type(obj).__name__} in a parameter pickle")


def safe_unpickle(source: str | os.PathLike | bytes | IO[bytes]) -> Any:
    """Unpickle plain data only (a path, the bytes themselves, or an open binary file)."""
    where = str(source) if isinstance(source, str | os.PathLike) else "pickle"
    if isinstance(source, str | os.PathLike):
        with open(source, "rb") as fh:
            return safe_unpickle(fh)
    fh = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        obj = _DataOnlyUnpickler(fh, encoding="bytes").load()
    except UnsafePickleError as err:
        raise UnsafePickleError(f"{where}: {err}") from None
    except (pickle.UnpicklingError, EOFError, ValueError) as err:
        raise ArtifactCorruptError(f"{where} is not a readable pickle ({err})") from err
    _check_plain_data(obj, where)
    return obj


def path(name: str | os.PathLike) -> Path:
    """Where artifact ``name`` lives: relative names are taken inside the current profile's folder."""
    name = Path(name)
    return name if name.is_absolute() else config.run_dir() / name


def manifest_path(file: Path) -> Path:
    return file.with_name(file.name + ".manifest.json")


def atomic_write(file: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Write ``file`` through ``write(fh)`` into a temporary file, then rename it into place."""
    file.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=file.parent, prefix=f".{file.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it private; by path, as Windows has no os.fchmod before 3.13
        os.replace(tmp, file)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


PACKAGE_DIR = Path(__file__).resolve().parents[1]  # helpers/
# The code that computes results, relative to the package: what an artifact's "code" digest covers.
# Plots, the notebooks' plumbing, the hand-in, downloads and settings code are left out, so editing
# them does not mark saved results as made by other code (tests/test_artifacts.py shows both ways).
COMPUTING = ("nn", "train.py", "augment.py", "filterbank.py", "metrics.py", "preprocess.py", "reference.py",
             "core/profiles.py", "core/device.py", "data/datasets.py", "features", "studies")


def code_files(package: Path = PACKAGE_DIR) -> list[Path]:
    """Every Python file of the ``helpers`` package (what a submission packs), sorted."""
    return sorted(file for file in package.rglob("*.py") if "__pycache__" not in file.parts)


def computing_files(package: Path = PACKAGE_DIR) -> list[Path]:
    """The Python files of :data:`COMPUTING`: the code that computes results, sorted."""
    return [file for file in code_files(package)
            if any(file.relative_to(package).as_posix().startswith(entry if entry.endswith(".py") else f"{entry}/")
                   for entry in COMPUTING)]


def _digest(package: Path, files: list[Path]) -> str:
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.relative_to(package).as_posix().encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()


def code_digest(package: Path = PACKAGE_DIR) -> str:
    """sha256 over the code that computes results (relative names and bytes): which code made an artifact."""
    return _digest(package, computing_files(package))


def package_digest(package: Path = PACKAGE_DIR) -> str:
    """sha256 over every Python file of the package: the digest artifacts recorded before :data:`COMPUTING`."""
    return _digest(package, code_files(package))


def sha256_of(file: Path) -> str:
    digest = hashlib.sha256()
    with open(file, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def _describe(arrays: Mapping[str, np.ndarray]) -> dict:
    return {key: {"shape": list(a.shape), "dtype": str(a.dtype)} for key, a in arrays.items()}


def _arrays_in(obj: Any, prefix: str = "") -> dict[str, np.ndarray]:
    """Every array inside nested dicts/lists, keyed by its path (for the manifest)."""
    if isinstance(obj, np.ndarray):
        return {prefix or "array": obj}
    items = obj.items() if isinstance(obj, Mapping) else enumerate(obj) if isinstance(obj, list | tuple) else ()
    found = {}
    for key, value in items:
        found.update(_arrays_in(value, f"{prefix}/{key}" if prefix else str(key)))
    return found


def _save(name, write, arrays: Mapping[str, np.ndarray], producer: str, settings: Mapping,
          **extra: Any) -> Path:
    file = path(name)
    atomic_write(file, write)
    manifest = {
        "file": file.name,
        "sha256": sha256_of(file),
        "bytes": file.stat().st_size,
        "arrays": _describe(arrays),
        "producer": producer,
        "code": code_digest(),  # the helpers/ that made it: a submission's packed source must match
        "config": dict(settings),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        **extra,
    }
    atomic_write(manifest_path(file), lambda fh: fh.write(json.dumps(manifest, indent=2, default=str).encode()))
    return file


def _notebook(producer: str | None) -> str:
    """How to remake an artifact: its notebook when the producer is one, else the producer's name."""
    if not producer:
        return "the notebook that produces it"
    notebook = config.project_dir() / "notebooks" / f"{producer}.ipynb"
    return f"notebooks/{notebook.name}" if notebook.exists() else producer


def _other_profiles(name) -> str:
    """Where a missing artifact ``name`` exists under other profiles: what to do about it, or ""."""
    file = path(name)
    if not file.is_relative_to(config.run_dir()):
        return ""
    relative = file.relative_to(config.run_dir())
    found = [p for p in PROFILES if p != config.profile().name and (config.artifacts_root() / p / relative).exists()]
    if not found:
        return ""
    return (f"; the profile is {config.profile().name!r} (from {config.origin('profile')}), but it exists only under "
            f"profile {' and '.join(map(repr, found))}: choose that profile for every notebook in {config.settings_file()}"
            f" (profile = {found[0]!r}), or run the notebook that makes it under {config.profile().name!r}")


def read_manifest(name, producer: str | None = None) -> dict:
    """The manifest of artifact ``name``; raises ArtifactMissingError naming the notebook to run (and other profiles')."""
    file = path(name)
    if not file.exists() or not manifest_path(file).exists():
        what = "is missing" if not file.exists() else "has no manifest (an interrupted write?)"
        raise ArtifactMissingError(f"{file} {what}: run {_notebook(producer)} first{_other_profiles(name)}")
    return json.loads(manifest_path(file).read_text())


def verify(name, producer: str | None = None, expect: Mapping | None = None) -> tuple[Path, dict]:
    """Check artifact ``name`` against its manifest and the expected configuration."""
    file = path(name)
    manifest = read_manifest(file, producer)
    producer = manifest.get("producer") or producer
    if sha256_of(file) != manifest["sha256"]:
        raise ArtifactCorruptError(
            f"{file} does not match its manifest (checksum differs: damaged or overwritten): "
            f"rerun {_notebook(producer)}"
        )
    for key, wanted in (expect or {}).items():
        found = manifest["config"].get(key)
        if found != wanted:
            raise ArtifactStaleError(
                f"{file} was made with {key}={found!r}, this run asks for {key}={wanted!r}: "
                f"rerun {_notebook(producer)}"
            )
    return file, manifest


def _check_arrays(file: Path, manifest: dict, arrays: Mapping[str, np.ndarray]) -> None:
    if _describe(arrays) != manifest["arrays"]:
        raise ArtifactCorruptError(f"{file}: shapes or dtypes differ from its manifest")


def save_arrays(name, producer: str, settings: Mapping, **arrays: np.ndarray) -> Path:
    """Save named arrays into one ``.npz`` (uncompressed, fast to load)."""
    arrays = {key: np.asarray(value) for key, value in arrays.items()}
    return _save(name, lambda fh: np.savez(fh, **arrays), arrays, producer, settings)


def load_arrays(name, producer: str | None = None, expect: Mapping | None = None) -> dict[str, np.ndarray]:
    """Load and verify an ``.npz`` written by :func:`save_arrays`."""
    file, manifest = verify(name, producer, expect)
    with np.load(file, allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    _check_arrays(file, manifest, arrays)
    return arrays


def save_params(name, params: Mapping, producer: str, settings: Mapping, **extra: Any) -> Path:
    """Pickle a parameter dictionary (plain data only) the way the seeds did."""
    _check_plain_data(params, str(name))
    return _save(name, lambda fh: pickle.dump(params, fh, protocol=4), _arrays_in(params), producer, settings, **extra)


def _verified_params(name, producer: str | None, expect: Mapping | None) -> tuple[Path, dict, Any]:
    file, manifest = verify(name, producer, expect)
    params = safe_unpickle(file)
    _check_arrays(file, manifest, _arrays_in(params))
    return file, manifest, params


def load_params(name, producer: str | None = None, expect: Mapping | None = None) -> Any:
    """Load a parameter pickle through the restricted unpickler, after verifying it."""
    return _verified_params(name, producer, expect)[2]


def save_model(name, model, producer: str, settings: Mapping) -> Path:
    """Save a model: one pickle of ``{**model.params, **model.state}``, its ``architecture`` and state names in the manifest.

    A model without state (e.g. an MLP) gives exactly the seed-format params pickle.
    """
    return save_params(name, {**model.params, **model.state}, producer, settings,
                       architecture=model.architecture, state=sorted(model.state))


def load_model(name, producer: str | None = None, expect: Mapping | None = None,
               architecture: Mapping | None = None):
    """Verify and rebuild a model saved by :func:`save_model`, as the architecture it was saved with.

    Every recorded form is read (``helpers.nn.architectures.generic_architecture``). ``architecture`` entries
    (e.g. ``{"input_shape": [512]}``) are checked against the recorded ones, in the ``Classifier``
    form: a mismatch is refused instead of silently building another network.
    """
    file, manifest, arrays = _verified_params(name, producer, expect)
    if not isinstance(manifest.get("architecture"), dict):
        raise ArtifactError(f"{file} was saved without its architecture: rerun {_notebook(manifest.get('producer'))}")
    try:
        recorded = generic_architecture(manifest["architecture"])
    except (KeyError, ValueError) as err:
        raise ArtifactCorruptError(f"{file}: {err}") from err
    for key, wanted in (architecture or {}).items():
        if recorded.get(key) != wanted:
            raise ArtifactStaleError(f"{file} holds a model with {key}={recorded.get(key)!r}, "
                                     f"not {key}={wanted!r} as asked")
    state_names = set(manifest.get("state", ()))
    params = {key: value for key, value in arrays.items() if key not in state_names}
    state = {key: value for key, value in arrays.items() if key in state_names}
    try:
        return Classifier.from_architecture(recorded, params, state=state)
    except (KeyError, ValueError) as err:
        raise ArtifactCorruptError(f"{file}: {err}") from err


def save_json(name, obj: Any, producer: str, settings: Mapping) -> Path:
    """Save JSON-serialisable data (reports, tables)."""
    text = json.dumps(obj, indent=2, sort_keys=True)
    return _save(name, lambda fh: fh.write(text.encode()), {}, producer, settings)


def load_json(name, producer: str | None = None, expect: Mapping | None = None) -> Any:
    file, _ = verify(name, producer, expect)
    return json.loads(file.read_text())


def results_name(producer: str) -> str:
    """Where notebook ``producer`` saves its headline results (read by ``make run``'s summary)."""
    return f"results/{producer}.json"


def save_results(producer: str, results: Mapping[str, Any]) -> Path:
    """Save a notebook's headline figures (accuracies, rates, differences), with the run's profile and weights."""
    plain = {key: value.item() if isinstance(value, np.generic) else value for key, value in results.items()}
    settings = {"profile": config.profile().name, "weights": config.feature_weights()}
    return save_json(results_name(producer), plain, producer, settings)
