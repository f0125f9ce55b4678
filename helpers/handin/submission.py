"""The hand-off to a grader: one archive with what quick inference needs, verified on arrival.

:func:`build` packs a profile's artifacts (parameter pickles, test features and labels, class
names, reports, confusion matrices, predictions and probabilities, a few raw test images, the
executed notebooks as HTML) with their manifests, plus ``environment.json`` (Python, packages,
BLAS, CPU: ``helpers.core.runtime.environment``), the student's source (``source/helpers/`` and
``source/notebooks/`` without outputs: one hand-in for both quick inference and the autograder) and a top-level ``submission.json``
listing every member with its sha256 and the digest of the packed ``helpers/``.
:func:`open_submission` extracts such an archive and refuses it if a member is missing, altered,
unlisted or has an unsafe name; after that the members load through :mod:`helpers.store.artifacts`
(checksummed, restricted unpickler) like local artifacts. :attr:`Submission.foreign_artifacts`
lists the artifacts whose manifests record other code than the packed source (results made by
other code): reported, never silently accepted.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from helpers.core import config, runtime
from helpers.store import artifacts

FORMAT = 2
TOP_MANIFEST = "submission.json"
ENVIRONMENT = "environment.json"
SOURCE = "source"  # the student's helpers/ and notebooks/ inside the archive
MAX_BYTES = 1 << 30  # the largest unpacked archive open_source accepts
MAX_MEMBERS = 2000  # the most members an archive may hold (a full submission holds about a hundred)

# (artifact, the notebook that makes it): what the quick-inference notebook reads
ARTIFACTS = (
    ("features/test.npz", "01_features"),
    ("features/class_names.json", "01_features"),
    ("unaug_model_params.pkl", "03_mlp_from_scratch"),
    ("aug_model_params.pkl", "03_mlp_from_scratch"),
    ("better_model_params.pkl", "03_mlp_from_scratch"),
    ("better_feature_scaling.npz", "03_mlp_from_scratch"),
    ("reports/unaug_classification_report.json", "04_compare"),
    ("reports/aug_classification_report.json", "04_compare"),
    ("reports/better_classification_report.json", "04_compare"),
    ("reports/predictions.npz", "04_compare"),
    ("reports/confusion_matrices.npz", "04_compare"),
    ("reports/summary.json", "04_compare"),
    ("reports/demo_images.npz", "04_compare"),
)
# executed notebooks shipped as HTML: the ones that made the artifacts are required
REQUIRED_HTML = ("01_features", "02_augmentation", "03_mlp_from_scratch", "04_compare")


class SubmissionError(RuntimeError):
    """A submission archive is incomplete, altered or unsafe."""


# ----------------------------------------------------------------------------- building
def archive_name(profile: str, weights: str) -> str:
    """``submission-<profile>-<weights>.zip``; a weights file is named by its stem."""
    word = str(weights).strip()
    tag = word.lower() if word.lower() in ("imagenet", "random") else Path(word).stem
    return f"submission-{profile}-{tag}.zip"


def _members(run_dir: Path) -> list[tuple[str, Path]]:
    """(name in the archive, file) for every artifact, its manifest and the HTML notebooks; checks each."""
    members = []
    for name, producer in ARTIFACTS:
        file = run_dir / name
        try:
            artifacts.verify(file, producer)
        except artifacts.ArtifactError as err:
            raise SubmissionError(f"cannot pack {name}: {err}") from err
        members += [(name, file), (f"{name}.manifest.json", artifacts.manifest_path(file))]
    html = {file.stem: file for file in sorted((run_dir / "notebooks").glob("*.html"))}
    missing = [stem for stem in REQUIRED_HTML if stem not in html]
    if missing:
        raise SubmissionError(
            f"no executed copy of {', '.join(missing)} in {run_dir / 'notebooks'}: run the notebooks with "
            "`make run` (or `python scripts/run_notebooks.py`), which saves them as HTML there")
    members += [(f"notebooks/{stem}.html", file) for stem, file in html.items()]
    return members


def without_outputs(notebook: Path) -> bytes:
    """A notebook's JSON with every code cell's outputs and execution count removed."""
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"], cell["execution_count"] = [], None
    return (json.dumps(nb, indent=1, ensure_ascii=False) + "\n").encode()


def source_members(notebooks: Path | None = None) -> dict[str, bytes]:
    """The student's source as archive members: the imported ``helpers`` package and the notebooks without outputs."""
    package = artifacts.PACKAGE_DIR
    members = {f"{SOURCE}/helpers/{file.relative_to(package).as_posix()}": file.read_bytes()
               for file in artifacts.code_files(package)}
    notebooks = notebooks or config.project_dir() / "notebooks"
    members |= {f"{SOURCE}/notebooks/{file.name}": without_outputs(file) for file in sorted(notebooks.glob("*.ipynb"))}
    return members


def build(run_dir: Path | None = None, out_dir: Path | None = None) -> Path:
    """Pack the current profile's artifacts (or ``run_dir``'s) and the source into ``out_dir/submission-*.zip``."""
    run_dir = Path(run_dir) if run_dir else config.run_dir()
    out_dir = Path(out_dir) if out_dir else config.project_dir() / "dist"
    members = _members(run_dir)
    features_config = artifacts.read_manifest(run_dir / "features/test.npz")["config"]
    written = {ENVIRONMENT: json.dumps(runtime.environment(), indent=2).encode(), **source_members()}
    listing = {name: {"sha256": artifacts.sha256_of(file), "bytes": file.stat().st_size} for name, file in members}
    listing |= {name: {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)} for name, data in written.items()}
    top = {"format": FORMAT, "profile": features_config["profile"], "weights": features_config["weights"],
           "weights_id": features_config["weights_id"], "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
           "code": artifacts.code_digest(), "members": listing}
    archive = out_dir / archive_name(top["profile"], top["weights"])

    def write(fh):
        with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
            zf.writestr(TOP_MANIFEST, json.dumps(top, indent=2))
            for name, data in written.items():
                zf.writestr(name, data)
            for name, file in members:
                zf.write(file, name)

    artifacts.atomic_write(archive, write)
    return archive


# ----------------------------------------------------------------------------- opening
@dataclass(frozen=True)
class Submission:
    """An extracted, verified archive: ``root`` is laid out like ``artifacts/<profile>/``."""

    archive: Path
    root: Path
    manifest: dict
    environment: dict

    @property
    def profile(self) -> str:
        return self.manifest["profile"]

    @property
    def weights(self) -> str:
        return self.manifest["weights"]

    @property
    def weights_id(self) -> str:
        return self.manifest["weights_id"]

    @property
    def source(self) -> Path:
        """The packed source: ``helpers/`` and ``notebooks/`` as the student ran them."""
        return self.root / SOURCE

    @property
    def foreign_artifacts(self) -> list[str]:
        """Artifacts whose manifest records other code than the packed ``helpers/`` (made by other code)."""
        package = self.source / "helpers"
        packed = {artifacts.code_digest(package), artifacts.package_digest(package)}  # older archives: the latter
        return sorted(str(file.relative_to(self.root)).removesuffix(".manifest.json")
                      for file in self.root.rglob("*.manifest.json")
                      if json.loads(file.read_text()).get("code") not in packed)


def _safe_name(name: str, archive: Path) -> PurePosixPath:
    member = PurePosixPath(name)
    if member.is_absolute() or ".." in member.parts or "\\" in name or ":" in name or not member.parts:
        raise SubmissionError(f"{archive}: member {name!r} has an unsafe path; the archive is refused")
    return member


def _listing(zf: zipfile.ZipFile, archive: Path, max_bytes: int | None) -> tuple[dict, dict]:
    """``(submission.json, its members)`` once the archive's size, names and listing are checked."""
    names = zf.namelist()
    if len(names) > MAX_MEMBERS:
        raise SubmissionError(f"{archive} holds {len(names)} members, over the limit of {MAX_MEMBERS}; "
                              "the archive is refused")
    if TOP_MANIFEST not in names:
        raise SubmissionError(f"{archive} has no {TOP_MANIFEST}: it was not made by `make submission`")
    unpacked = sum(info.file_size for info in zf.infolist())
    if max_bytes is not None and unpacked > max_bytes:
        raise SubmissionError(f"{archive} unpacks to {unpacked} bytes, over the limit of {max_bytes}; "
                              "the archive is refused")
    try:
        top = json.loads(zf.read(TOP_MANIFEST))
        listed = dict(top["members"]) if top.get("format") == FORMAT else None
    except (ValueError, TypeError, KeyError, AttributeError, zipfile.BadZipFile, OSError) as err:
        raise SubmissionError(f"{archive}: {TOP_MANIFEST} is unreadable ({err!r}); the archive is refused") from err
    if listed is None:
        raise SubmissionError(f"{archive}: unknown submission format {top.get('format')!r} (this bundle reads {FORMAT})")
    for name in names:
        _safe_name(name, archive)
    unlisted = sorted(set(names) - set(listed) - {TOP_MANIFEST})
    if unlisted:
        raise SubmissionError(f"{archive}: {', '.join(unlisted)} not listed in {TOP_MANIFEST}; the archive is refused")
    missing = sorted(set(listed) - set(names))
    if missing:
        raise SubmissionError(f"{archive}: member {', '.join(missing)} is missing")
    return top, listed


def _unpack(zf: zipfile.ZipFile, archive: Path, listed: dict, root: Path) -> None:
    """Write every listed member under ``root``, each checked against its size and sha256 first."""
    shutil.rmtree(root, ignore_errors=True)
    for name, entry in listed.items():
        # the size is checked before reading, so a forged member cannot make us unpack gigabytes
        try:
            intact = (zf.getinfo(name).file_size == entry["bytes"]
                      and hashlib.sha256(data := zf.read(name)).hexdigest() == entry["sha256"])
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError, KeyError, TypeError):  # damaged data, a bad entry
            intact = False
        if not intact:
            shutil.rmtree(root, ignore_errors=True)
            raise SubmissionError(f"{archive}: member {name} does not match {TOP_MANIFEST} "
                                  "(altered or damaged); the archive is refused")
        target = root / _safe_name(name, archive)
        try:
            artifacts.atomic_write(target, lambda fh, data=data: fh.write(data))
        except OSError as err:  # e.g. a member where another one makes a folder
            shutil.rmtree(root, ignore_errors=True)
            raise SubmissionError(f"{archive}: member {name} cannot be unpacked ({err.strerror}); "
                                  "the archive is refused") from None


def _extract(archive: str | os.PathLike, extract_to: Path | None, max_bytes: int | None) -> tuple[Path, Path, dict]:
    """``(archive, root, submission.json)`` after verifying every member of ``archive`` and extracting it to ``root``.

    ``max_bytes`` bounds the archive's unpacked size (the sizes the zip's headers declare, which
    also bound what reading a member may inflate to) before anything is unpacked.
    """
    archive = Path(archive).expanduser()
    if not archive.is_file():
        raise SubmissionError(f"submission {archive} does not exist: pass the path of a submission-*.zip "
                              "made by `make submission`")
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as err:
        raise SubmissionError(f"{archive} is not a zip archive ({err}): ask for the file made by `make submission`") from err
    with zf:
        top, listed = _listing(zf, archive, max_bytes)
        digest = artifacts.sha256_of(archive)
        root = Path(extract_to) if extract_to else config.artifacts_root() / "submissions" / digest[:16]
        _unpack(zf, archive, listed, root)
    return archive, root, top


def open_submission(archive: str | os.PathLike, extract_to: Path | None = None) -> Submission:
    """Verify every member of ``archive`` against its ``submission.json`` and extract it."""
    archive, root, top = _extract(archive, extract_to, max_bytes=None)
    return Submission(archive, root, top, json.loads((root / ENVIRONMENT).read_text()))


def open_source(archive: str | os.PathLike, extract_to: Path, max_bytes: int | None = MAX_BYTES) -> Submission:
    """Like :func:`open_submission`, for grading code: the archive needs only ``source/helpers/`` (results optional).

    The same checks apply, plus ``max_bytes`` on the unpacked size. The returned submission's
    ``source`` is what the autograder grades; ``environment`` is empty when the archive has none.
    """
    archive, root, top = _extract(archive, extract_to, max_bytes)
    if not (root / SOURCE / "helpers" / "__init__.py").is_file():
        shutil.rmtree(root, ignore_errors=True)
        raise SubmissionError(f"{archive} has no {SOURCE}/helpers/ package: make it with `make submission`")
    environment = root / ENVIRONMENT
    return Submission(archive, root, top, json.loads(environment.read_text()) if environment.is_file() else {})
