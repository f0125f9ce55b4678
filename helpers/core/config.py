"""Run-time configuration, read from the environment in this one place.

Every environment variable is declared once, in :data:`VARIABLES` (its meaning and default);
docs/CONFIGURATION.md's table is :func:`variables_table` (``python -m helpers.core.config`` prints
it; tests/test_config.py checks the page against it). Data sources default to the offline copies in
``../shared/data`` beside the checkout when they exist (this project's machines), else to a
download. Values are read when asked for, not at import, so a test can change them.

The profile and the weights are chosen once for the whole checkout, in ``settings.toml`` at its top
(:data:`SETTINGS_FILE`): every notebook and ``make run`` read it, and an environment variable
overrides it (``make test`` sets BUNDLE_PROFILE=smoke). :func:`apply_settings` applies a notebook's
own settings (05's SUBMISSION) and the command line's to the process and what it starts.
"""
from __future__ import annotations

import os
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from helpers.core.profiles import PROFILES, Profile

REPO_ROOT = Path(__file__).resolve().parents[2]  # the one definition of the repository root
SETTINGS_FILE = "settings.toml"  # the checkout's choice of profile and weights, read by every notebook
SHARED_DATA_FILES = {"CIFAR10_DIR": "cifar10-jpeg.tar.gz", "MNIST_DIR": "mnist.npz"}


def _named_profile(name: str, where: str) -> Profile:
    """The profile called ``name``; a ValueError naming ``where`` the name came from otherwise."""
    key = name.strip().lower()
    if key not in PROFILES:
        raise ValueError(f"{where} is {name!r}, not a known profile: set it to one of {sorted(PROFILES)}")
    return PROFILES[key]


@dataclass(frozen=True)
class Variable:
    """An environment variable: what it means and its default, as docs/CONFIGURATION.md shows them."""

    name: str
    meaning: str  # Markdown
    default: str  # Markdown, for the page
    value: str = ""  # what the code takes when it is unset or blank ("": none)


VARIABLES = {variable.name: variable for variable in (
    Variable("BUNDLE_PROFILE", "`full` (all data, the seeds' hyperparameters) or `smoke` (100/50 images per class, few epochs)",
             "`full` (`smoke` under `make test`)", "full"),
    Variable("FEATURE_WEIGHTS", "`imagenet` (torchvision download, `TORCH_HOME` cache), a local state_dict path, or `random`",
             "`imagenet` (`random` under `make test`)", "imagenet"),
    Variable("CIFAR10_DIR", "`cifar-10-batches-py` folder, image-folder tree `train/<class>/*`, `test/<class>/*`, or a "
             "`.tar.gz`/`.zip` of one; empty: download",
             "`../shared/data/cifar10-jpeg.tar.gz` beside the checkout when present, else download"),
    Variable("MNIST_DIR", "a `mnist.npz` (or a folder holding it)", "`../shared/data/mnist.npz` when present, else download"),
    Variable("CIFAR10_URL", "a download source tried first: the archive's address or a folder holding it", "none"),
    Variable("MNIST_URL", "a download source tried first: a folder holding the `.gz` files", "none"),
    Variable("BUNDLE_ARTIFACTS", "where generated files go",
             "`artifacts/` of the checkout (found from the current folder after a plain `pip install`; "
             "`/content/artifacts` on Colab)"),
    Variable("BUNDLE_CACHE", "decoded data sets and feature caches, keyed by their content (sharing one between runs "
             "saves work and cannot change a result)", "`cache/` inside `BUNDLE_ARTIFACTS`"),
    Variable("BUNDLE_BLAS_THREADS", "BLAS and torch threads of the notebooks that train (03, 06, 07)",
             "1 on up to 2 CPUs, else half the CPUs, at most 4 (see below)"),
    Variable("BUNDLE_PROGRESS", "`text`: plain-text progress bars (the headless runner sets it)", "widgets in Jupyter"),
    Variable("SUBMISSION", "a `submission-*.zip` for `05_quick_inference` to check (`make inference`)",
             "none: this tree's artifacts"),
)}


def variables_table() -> str:
    """The Markdown table of :data:`VARIABLES`, as docs/CONFIGURATION.md holds it."""
    rows = [f"| `{v.name}` | {v.meaning} | {v.default} |" for v in VARIABLES.values()]
    return "\n".join(["| variable | meaning | default |", "|---|---|---|", *rows])


def _env(name: str) -> str:
    """Variable ``name`` of :data:`VARIABLES`, stripped; its declared value when unset or blank."""
    return os.environ.get(VARIABLES[name].name, "").strip() or VARIABLES[name].value


@dataclass(frozen=True)
class Setting:
    """A choice of :data:`SETTINGS`, backed by an environment variable of :data:`VARIABLES`."""

    variable: str
    check: Callable[[str, str], object] | None = None  # check(value, where) raises if value is wrong
    in_file: bool = False  # chosen for the whole checkout in settings.toml (the variable overrides it)


# a setting's name (settings.toml's key; a settings cell's variable in lower case) -> what backs it
SETTINGS = {
    "profile": Setting("BUNDLE_PROFILE", _named_profile, in_file=True),
    "weights": Setting("FEATURE_WEIGHTS", in_file=True),  # checked by helpers.features when used
    "submission": Setting("SUBMISSION"),  # a notebook's own (05): checked by helpers.handin.submission
}


def settings_file() -> Path:
    """``settings.toml`` at the top of the checkout: the profile and weights of every notebook."""
    return project_dir() / SETTINGS_FILE


def file_settings() -> dict[str, str]:
    """The choices written in settings.toml (none when there is no such file); a ValueError naming it if wrong."""
    file = settings_file()
    if not file.is_file():
        return {}
    try:
        chosen = tomllib.loads(file.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{file} is not valid TOML ({err}): fix that line, or restore the file from the repository") from None
    known = sorted(name for name, setting in SETTINGS.items() if setting.in_file)
    wrong = sorted(name for name, value in chosen.items() if name not in known or not isinstance(value, str))
    if wrong:
        raise ValueError(f"{file}: {wrong} not understood; it holds text values for {known} only, "
                         'e.g. profile = "smoke"')
    if "profile" in chosen:
        _named_profile(chosen["profile"], f"profile in {file}")
    return chosen


def _chosen(name: str) -> tuple[str, str]:
    """Setting ``name`` and where it comes from: its environment variable, settings.toml, or the default."""
    setting = SETTINGS[name]
    if os.environ.get(setting.variable, "").strip():
        return _env(setting.variable), setting.variable
    chosen = file_settings() if setting.in_file else {}  # read and checked once per call
    if name in chosen:
        return chosen[name].strip(), SETTINGS_FILE
    return _env(setting.variable), "the default"


def _setting(name: str) -> str:
    """Setting ``name``: its environment variable, else settings.toml, else its default."""
    return _chosen(name)[0]


def origin(name: str) -> str:
    """Where setting ``name`` comes from: its environment variable's name, ``settings.toml`` or ``the default``."""
    return _chosen(name)[1]


def apply_settings(source: str = "the settings cell", **values: str | os.PathLike | None) -> None:
    """Apply settings from ``source`` (a notebook's settings cell, the command line) to this process, then print them.

    Each keyword is a setting of :data:`SETTINGS`. A value other than None sets the setting's
    environment variable for this process and what it starts (a kernel, a subprocess); None keeps
    the environment's value, else settings.toml's, else the default.
    """
    unknown = sorted(set(values) - set(SETTINGS))
    if unknown:
        raise TypeError(f"apply_settings: unknown setting(s) {unknown}; known: {sorted(SETTINGS)}")
    for name, value in values.items():
        setting = SETTINGS[name]
        if value is not None:
            if setting.check:
                setting.check(str(value), f"{name.upper()} in {source}")
            os.environ[setting.variable] = str(value)
    origins = {name: source if value is not None else origin(name) for name, value in values.items()}
    chosen = ", ".join(f"{name.upper()} = {_setting(name) or None!r} (from {origins[name]})" for name in values)
    print(f"==== settings: {chosen} ====", flush=True)


def profile() -> Profile:
    """The profile named by BUNDLE_PROFILE, else by settings.toml (default ``full``)."""
    name, where = _chosen("profile")
    return _named_profile(name, where if where == "BUNDLE_PROFILE" else f"profile in {settings_file()}")


def feature_weights() -> str:
    """FEATURE_WEIGHTS, else settings.toml's weights: ``imagenet`` (default), a local state_dict path, or ``random``."""
    return _setting("weights")


def project_dir() -> Path:
    """The checkout the notebooks belong to.

    The folder holding this package when it is one (a source checkout or ``pip install -e``);
    else, for a plain ``pip install``, the current folder or its nearest parent holding
    ``pyproject.toml`` and ``notebooks/``; else the current folder (``/content`` on Colab).
    """
    here = Path.cwd()
    for folder in (REPO_ROOT, here, *here.parents):
        if (folder / "pyproject.toml").is_file() and (folder / "notebooks").is_dir():
            return folder
    return here


def artifacts_root() -> Path:
    """Top folder for every generated file (BUNDLE_ARTIFACTS, default ``artifacts/`` of the project)."""
    return Path(os.environ.get("BUNDLE_ARTIFACTS", project_dir() / "artifacts")).expanduser().resolve()


def run_dir() -> Path:
    """Outputs of the current profile, kept apart so a smoke run never overwrites a full one."""
    return artifacts_root() / profile().name


def cache_dir() -> Path:
    """Decoded data sets and feature caches, shared by every profile (BUNDLE_CACHE, default ``artifacts/cache``).

    Every entry is keyed by its content (source, images, weights, precision), so runs that share
    a cache can only save work, never change a result.
    """
    value = os.environ.get("BUNDLE_CACHE", "").strip()
    return Path(value).expanduser().resolve() if value else artifacts_root() / "cache"


def shared_data_dir() -> Path:
    """``../shared/data`` beside the project: offline copies of the data sets on this project's machines."""
    return project_dir().parent / "shared" / "data"


def _data_source(variable: str) -> Path | None:
    """The path in ``variable``; unset: the shared offline copy when there is one; empty or absent: None."""
    value = os.environ.get(variable)
    if value is None:
        shared = shared_data_dir() / SHARED_DATA_FILES[variable]
        return shared if shared.exists() else None
    return Path(value.strip()).expanduser() if value.strip() else None


def cifar10_source() -> Path | None:
    """The CIFAR-10 source: CIFAR10_DIR, else the shared offline copy, else None (download)."""
    return _data_source("CIFAR10_DIR")


def mnist_source() -> Path | None:
    """The MNIST source: MNIST_DIR, else the shared offline copy, else None (download)."""
    return _data_source("MNIST_DIR")


def download_url(variable: str) -> str | None:
    """A download source the user puts first (CIFAR10_URL, MNIST_URL), or None."""
    return os.environ.get(variable, "").strip() or None


def text_progress() -> bool:
    """True when BUNDLE_PROGRESS=text asks for plain-text progress bars instead of widgets."""
    return os.environ.get("BUNDLE_PROGRESS", "").strip().lower() == "text"


def cpu_count() -> int:
    """CPUs this process may run on (its affinity mask where the platform has one)."""
    if hasattr(os, "sched_getaffinity"):  # Linux; elsewhere every CPU is usable
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def blas_threads() -> int:
    """Threads for BLAS and torch: BUNDLE_BLAS_THREADS, else 1 on up to 2 CPUs, else half the CPUs, at most 4.

    The products here are small (a batch of 64 rows): measured on a 2-core machine, a second
    thread gained ~20% when the machine was idle and cost 5-7x while other processes kept the
    cores busy, as every product then waits for the descheduled worker. With more CPUs, half
    of them leaves the SMT siblings and the rest of the machine free; beyond 4 threads such
    products have little left to split (not measured: no such machine here).
    """
    value = os.environ.get("BUNDLE_BLAS_THREADS", "").strip()
    if value:
        if not value.isdigit() or int(value) < 1:
            raise ValueError(f"BUNDLE_BLAS_THREADS={value!r}: set it to a whole number of at least 1")
        return int(value)
    cpus = cpu_count()
    return 1 if cpus <= 2 else min(cpus // 2, 4)


def submission() -> Path | None:
    """SUBMISSION: a submission archive for the quick-inference notebook to check, if any."""
    value = _setting("submission")
    return Path(value).expanduser() if value else None


if __name__ == "__main__":
    print(variables_table())
