"""The grader's path: a smoke run packed by `make submission`, checked by notebook 05 on the archive alone."""
import hashlib
import io
import json
import os
import pickle
import subprocess
import sys
import zipfile

import nbformat
import numpy as np
import pytest

from grading import batch
from helpers import metrics
from helpers.core import config
from helpers.handin import legacy, submission
from helpers.store import artifacts

REPO = config.REPO_ROOT
PRODUCERS = ["01_features", "02_augmentation", "03_mlp_from_scratch", "04_compare"]
RUN_VARIABLES = ("BUNDLE_ARTIFACTS", "BUNDLE_CACHE", "BUNDLE_PROFILE", "CIFAR10_DIR", "MNIST_DIR", "SUBMISSION", "OPENBLAS_CORETYPE")


def clean_environment(**values):
    env = {key: value for key, value in os.environ.items() if key not in RUN_VARIABLES}
    return {**env, **{key: str(value) for key, value in values.items()}}


def run(args, env, cwd=REPO):
    done = subprocess.run([sys.executable, *map(str, args)], env=env, cwd=cwd, capture_output=True, text=True)
    assert done.returncode == 0, f"{args} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def smoke_archive(tmp_path_factory):
    """A real smoke run of notebooks 01-04 (random weights) in its own folder, packed into an archive."""
    cifar10 = config.cifar10_source() or REPO.parent / "shared/data/cifar10-jpeg.tar.gz"
    if not cifar10.exists():
        pytest.skip("needs CIFAR-10 (CIFAR10_DIR) to make a smoke run")
    folder = tmp_path_factory.mktemp("student")
    # the feature cache is the checkout's: content-keyed, so `make test`'s notebook pass reuses these smoke
    # features instead of extracting them again, and nothing it holds can change a result
    env = clean_environment(BUNDLE_ARTIFACTS=folder / "artifacts", BUNDLE_PROFILE="smoke", FEATURE_WEIGHTS="random",
                            CIFAR10_DIR=cifar10, BUNDLE_CACHE=REPO / "artifacts" / "cache")
    run(["scripts/run_notebooks.py", *(f"notebooks/{name}.ipynb" for name in PRODUCERS)], env)
    made = run(["scripts/make_submission.py", "--out", folder / "dist"], env)
    archive = folder / "dist" / "submission-smoke-random.zip"
    assert archive.is_file() and str(archive) in made.stdout
    return archive


def other_coretype():
    """An x86-64 OpenBLAS kernel other than the one this process runs (Sandybridge needs only AVX)."""
    from threadpoolctl import threadpool_info

    running = {info.get("architecture", "").lower() for info in threadpool_info() if info["user_api"] == "blas"}
    return "Haswell" if "sandybridge" in running else "Sandybridge"


def rewrite(archive, out, replace=None, drop=(), add=None):
    """A copy of ``archive`` with members replaced, dropped or added (bytes), ``submission.json`` kept."""
    with zipfile.ZipFile(archive) as src, zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            if name not in drop:
                dst.writestr(name, (replace or {}).get(name, src.read(name)))
        for name, data in (add or {}).items():
            dst.writestr(name, data)
    return out


def test_quick_inference_runs_on_the_archive_alone_under_another_blas_kernel(smoke_archive, tmp_path):
    grader = tmp_path / "grader"
    grader.mkdir()
    archive = grader / smoke_archive.name
    archive.write_bytes(smoke_archive.read_bytes())
    coretype = other_coretype()
    env = clean_environment(SUBMISSION=archive, BUNDLE_ARTIFACTS=grader / "artifacts", TORCH_HOME=grader / "torch",
                            OPENBLAS_CORETYPE=coretype, FEATURE_WEIGHTS="imagenet",
                            HTTP_PROXY="http://127.0.0.1:9", HTTPS_PROXY="http://127.0.0.1:9")
    probe = run(["-c", "import numpy; from threadpoolctl import threadpool_info as t; print([i['architecture'] for i in t() "
                 "if i['user_api'] == 'blas'])"], env, cwd=grader)
    assert coretype.lower() in probe.stdout.lower(), probe.stdout  # the other kernel really runs
    run([REPO / "scripts/run_notebooks.py", "--out", grader / "out", REPO / "notebooks/05_quick_inference.ipynb"], env,
        cwd=grader)
    executed = nbformat.read(grader / "out/05_quick_inference.ipynb", as_version=4)
    text = "".join(output.get("text", "") for cell in executed.cells for output in cell.get("outputs", []))
    assert "members verified against submission.json" in text
    assert text.count("largest probability difference") == 3
    assert "cosine similarity to the saved features" in text  # random weights are available anywhere
    assert not list((grader / "artifacts").glob("cache"))  # no data set was decoded


def test_archive_lists_every_member_with_its_checksum(smoke_archive):
    with zipfile.ZipFile(smoke_archive) as zf:
        top = json.loads(zf.read(submission.TOP_MANIFEST))
        names = set(zf.namelist())
        assert names == set(top["members"]) | {submission.TOP_MANIFEST}
        for name, entry in top["members"].items():
            assert hashlib.sha256(zf.read(name)).hexdigest() == entry["sha256"]
        environment = json.loads(zf.read(submission.ENVIRONMENT))
    assert top["profile"] == "smoke" and top["weights"] == "random"
    for name, _ in submission.ARTIFACTS:
        assert {name, f"{name}.manifest.json"} <= names
    assert {f"notebooks/{stem}.html" for stem in submission.REQUIRED_HTML} <= names
    assert environment["packages"]["numpy"] == np.__version__ and environment["blas"]


def test_an_altered_member_is_refused_naming_it(smoke_archive, tmp_path):
    altered = rewrite(smoke_archive, tmp_path / "a.zip", replace={"reports/summary.json": b"{}"})
    with pytest.raises(submission.SubmissionError, match=r"member reports/summary\.json does not match submission\.json"):
        submission.open_submission(altered, tmp_path / "out")
    assert not (tmp_path / "out").exists()  # nothing half-extracted is left to be used


def test_missing_unlisted_and_unsafe_members_are_refused(smoke_archive, tmp_path):
    missing = rewrite(smoke_archive, tmp_path / "m.zip", drop={"aug_model_params.pkl"})
    with pytest.raises(submission.SubmissionError, match=r"member aug_model_params\.pkl is missing"):
        submission.open_submission(missing, tmp_path / "out")
    extra = rewrite(smoke_archive, tmp_path / "e.zip", add={"extra.pkl": b"x"})
    with pytest.raises(submission.SubmissionError, match=r"extra\.pkl not listed in submission\.json"):
        submission.open_submission(extra, tmp_path / "out")
    unsafe = rewrite(smoke_archive, tmp_path / "u.zip", add={"../escape.txt": b"x"})
    with pytest.raises(submission.SubmissionError, match=r"'\.\./escape\.txt' has an unsafe path"):
        submission.open_submission(unsafe, tmp_path / "out")
    assert not (tmp_path / "escape.txt").exists()
    not_zip = tmp_path / "n.zip"
    not_zip.write_bytes(b"not a zip")
    with pytest.raises(submission.SubmissionError, match=r"n\.zip is not a zip archive"):
        submission.open_submission(not_zip)


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_a_code_running_pickle_with_forged_manifests_is_refused_and_never_runs(smoke_archive, tmp_path, protocol):
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"W1": _Payload(marker)}, protocol=protocol)
    name = "aug_model_params.pkl"
    with zipfile.ZipFile(smoke_archive) as zf:
        top = json.loads(zf.read(submission.TOP_MANIFEST))
        sidecar = json.loads(zf.read(f"{name}.manifest.json"))
    digest = hashlib.sha256(payload).hexdigest()
    sidecar.update(sha256=digest, bytes=len(payload))
    sidecar_bytes = json.dumps(sidecar).encode()
    top["members"][name] = {"sha256": digest, "bytes": len(payload)}
    top["members"][f"{name}.manifest.json"] = {"sha256": hashlib.sha256(sidecar_bytes).hexdigest(),
                                               "bytes": len(sidecar_bytes)}
    forged = rewrite(smoke_archive, tmp_path / "f.zip", replace={
        name: payload, f"{name}.manifest.json": sidecar_bytes, submission.TOP_MANIFEST: json.dumps(top).encode()})
    opened = submission.open_submission(forged, tmp_path / "out")  # every checksum is consistent ...
    with pytest.raises(artifacts.UnsafePickleError, match=r"refused to load (posix|nt|os)\.system"):
        artifacts.load_model(opened.root / name)  # ... but the unpickler refuses the payload
    assert not marker.exists()


def test_seed_layout_pickles_load_and_predict_like_the_saved_model(smoke_archive, tmp_path):
    opened = submission.open_submission(smoke_archive, tmp_path / "out")
    model = artifacts.load_model(opened.root / "aug_model_params.pkl")
    X_test = artifacts.load_arrays(opened.root / "features/test.npz")["features"]
    p = model.params
    layouts = {  # seed 001 stores rows (W1 (512, 64), b1 (1, 64)); seed 000 columns (W1 (64, 512), b1 (64, 1))
        "rows": {"W1": p["W1"], "b1": p["b1"][None, :], "W2": p["W2"], "b2": p["b2"][None, :]},
        "columns": {"W1": p["W1"].T.copy(), "b1": p["b1"][:, None], "W2": p["W2"].T.copy(), "b2": p["b2"][:, None]},
    }
    for layout, params in layouts.items():
        file = tmp_path / f"{layout}.pkl"
        file.write_bytes(pickle.dumps(params))
        student, found = legacy.load_student_params(file)
        assert found == layout
        assert np.array_equal(student.predict(X_test), model.predict(X_test))
        np.testing.assert_array_equal(student.predict_proba(X_test), model.predict_proba(X_test))


def test_probabilities_within_tolerance_pass_and_a_flipped_clear_prediction_fails():
    rng = np.random.default_rng(0)
    saved = rng.dirichlet(np.ones(10), size=200).astype(np.float32)
    predictions = saved.argmax(axis=1)
    tolerance = metrics.PROBABILITY_TOLERANCE
    nudged = saved + rng.uniform(-tolerance / 2, tolerance / 2, saved.shape)
    check = metrics.compare_predictions(nudged, saved, predictions)
    assert check["ok"] and check["max_difference"] <= tolerance / 2 and not check["changed"]

    flipped = saved.copy()
    row = int(np.argmax(metrics.top2_margin(saved)))  # the clearest prediction
    first, second = np.argsort(saved[row])[-2:][::-1]
    flipped[row, [first, second]] = flipped[row, [second, first]]
    check = metrics.compare_predictions(flipped, saved, predictions)
    assert not check["ok"] and check["changed"] == [{"index": row, "saved": int(first), "fresh": int(second),
                                                     "margin": pytest.approx(float(saved[row, first] - saved[row, second]))}]

    tie = np.array([[0.5, 0.5 - tolerance / 4, tolerance / 4]])  # a near tie may flip
    check = metrics.compare_predictions(tie[:, [1, 0, 2]], tie, np.array([0]))
    assert check["ok"] and check["changed"][0]["margin"] < check["tie_bound"]
    assert not metrics.compare_predictions(tie + [[2 * tolerance, -2 * tolerance, 0]], tie, np.array([0]))["ok"]


def test_packing_stops_at_a_missing_artifact_naming_its_notebook(tmp_path):
    with pytest.raises(submission.SubmissionError, match=r"features/test\.npz.*run notebooks/01_features\.ipynb"):
        submission.build(tmp_path / "run", tmp_path / "dist")
    assert not (tmp_path / "dist").exists()


def test_archive_names_follow_profile_and_weights():
    assert submission.archive_name("full", "imagenet") == "submission-full-imagenet.zip"
    assert submission.archive_name("smoke", "/w/resnet18-f37072fd.pth") == "submission-smoke-resnet18-f37072fd.zip"


def test_demo_weights_are_found_by_checksum_without_downloading(tmp_path, monkeypatch):
    from helpers.features.weights import IMAGENET_FILE, local_weights, weights_id

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("FEATURE_WEIGHTS", "imagenet")
    assert local_weights(weights_id("random")) == "random"
    assert local_weights(weights_id("imagenet")) is None  # nothing cached, nothing fetched
    weights = tmp_path / "mine.pth"
    weights.write_bytes(b"not really a state dict")
    recorded = f"file:{hashlib.sha256(weights.read_bytes()).hexdigest()[:12]}"
    assert local_weights(recorded) is None
    monkeypatch.setenv("FEATURE_WEIGHTS", str(weights))
    assert local_weights(recorded) == weights
    assert local_weights("file:000000000000") is None
    assert local_weights(weights_id("imagenet")) is None  # checksum is not ImageNet's
    cached = tmp_path / "torch/hub/checkpoints" / IMAGENET_FILE
    cached.parent.mkdir(parents=True)
    cached.write_bytes(weights.read_bytes())
    monkeypatch.setenv("FEATURE_WEIGHTS", "random")
    assert local_weights(recorded) == cached


def forge(archive, out, replace):
    """A copy of ``archive`` with members replaced and ``submission.json`` rewritten to match (a consistent forgery)."""
    with zipfile.ZipFile(archive) as src:
        members = {name: replace.get(name, src.read(name)) for name in src.namelist()}
    top = json.loads(members[submission.TOP_MANIFEST])
    for name, data in replace.items():
        top["members"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    members[submission.TOP_MANIFEST] = json.dumps(top).encode()
    with zipfile.ZipFile(out, "w") as dst:
        for name, data in members.items():
            dst.writestr(name, data)
    return out


def test_the_archive_carries_the_source_that_made_its_results(smoke_archive, tmp_path):
    with zipfile.ZipFile(smoke_archive) as zf:
        names = set(zf.namelist())
        packed_notebook = json.loads(zf.read("source/notebooks/03_mlp_from_scratch.ipynb"))
    helpers_files = {f"source/helpers/{file.relative_to(artifacts.PACKAGE_DIR).as_posix()}" for file in artifacts.code_files()}
    assert helpers_files <= names and "source/helpers/nn/layers.py" in names
    assert {f"source/notebooks/{nb.name}" for nb in (REPO / "notebooks").glob("*.ipynb")} <= names
    assert all(not cell.get("outputs") for cell in packed_notebook["cells"] if cell["cell_type"] == "code")
    opened = submission.open_submission(smoke_archive, tmp_path / "out")
    assert (opened.source / "helpers" / "nn" / "layers.py").is_file()
    assert artifacts.code_digest(opened.source / "helpers") == opened.manifest["code"]
    assert opened.foreign_artifacts == []  # every artifact was made by the packed code


def test_results_made_by_other_code_are_reported(smoke_archive, tmp_path):
    name = "source/helpers/nn/layers.py"
    with zipfile.ZipFile(smoke_archive) as zf:
        changed = zf.read(name) + b"\n# edited after the run\n"
    forged = forge(smoke_archive, tmp_path / "forged.zip", {name: changed})
    opened = submission.open_submission(forged, tmp_path / "out")  # every checksum matches the forged listing
    assert "unaug_model_params.pkl" in opened.foreign_artifacts
    assert "features/test.npz" in opened.foreign_artifacts


def test_grade_all_inference_reproduces_genuine_results_and_fails_forged_ones(smoke_archive, tmp_path):
    """`make grade-all ... --inference`: notebook 05 on each archive; consistently forged probabilities fail it."""
    name = "reports/predictions.npz"
    with zipfile.ZipFile(smoke_archive) as zf:
        saved = dict(np.load(io.BytesIO(zf.read(name))))
        manifest = json.loads(zf.read(f"{name}.manifest.json"))
    saved["unaug_probabilities"] = np.ascontiguousarray(saved["unaug_probabilities"][:, ::-1])
    buffer = io.BytesIO()
    np.savez(buffer, **saved)
    manifest["sha256"] = hashlib.sha256(buffer.getvalue()).hexdigest()  # every checksum agrees with the forgery
    forged = forge(smoke_archive, tmp_path / "forged.zip",
                   {name: buffer.getvalue(), f"{name}.manifest.json": json.dumps(manifest).encode()})
    genuine, tampered = (batch.grade_archive(archive, only="nn.layers.relu_backward", inference=True)
                         for archive in (smoke_archive, forged))
    assert genuine["status"] == tampered["status"] == "graded"
    assert genuine["consistency"] == tampered["consistency"] == "consistent"
    assert genuine["inference"] == "reproduced"
    assert tampered["inference"].startswith("failed") and "unaugmented" in tampered["inference"], tampered["inference"]
