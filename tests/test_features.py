"""helpers.features (weights, extraction, cache) and helpers.core.device: weights, preprocessing, precision, errors, and the resumable feature cache.

Most tests use random weights and a small resolution; the ones that need real photographs
(preprocessing against torchvision, bf16 against fp32 at 224) read CIFAR10_DIR or the shared
offline copy and are skipped without either.
"""
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
import urllib.error

import numpy as np
import pytest
import torch
import torchvision
from torchvision.transforms import v2

from helpers.core import config
from helpers.core import device as device_policy
from helpers.core.device import (COMPILE_MIN_IMAGES, cpu_supports_bf16, cxx_compiler, pick_device, resolve_backend,
                                 resolve_precision)
from helpers.data.datasets import load_cifar10
from helpers.features import weights as feature_weights
from helpers.features.cache import cache_entry, cached_features
from helpers.features.extract import (IMAGENET_MEAN, IMAGENET_STD, Extractor, extract_features, preprocess,
                                      progress_bar)
from helpers.features.weights import (IMAGENET_FILE, IMAGENET_SHA256_PREFIX, WeightsError, announce_random_weights,
                                      describe_weights, load_backbone, weights_kind)
from helpers.store import artifacts

SMALL = 64  # resolution for tests where the exact size does not matter


def random_images(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def real_images(tmp_path_factory, real_sources):
    """64 real CIFAR-10 test images (decoded once into a module-wide temporary cache)."""
    if real_sources["CIFAR10_DIR"] is None:
        pytest.skip("no CIFAR10_DIR and no shared offline copy: these checks need real CIFAR-10 photographs")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BUNDLE_ARTIFACTS", str(tmp_path_factory.mktemp("cifar")))
        patch.setenv("CIFAR10_DIR", str(real_sources["CIFAR10_DIR"]))
        images, _, _ = load_cifar10("test")
    return images[np.random.default_rng(0).choice(len(images), 64, replace=False)]


@pytest.fixture
def count_extracted(monkeypatch):
    """A list that receives the number of images each extraction call computes."""
    calls = []
    real_call = Extractor.__call__

    def counting(self, images, bar):
        calls.append(len(images))
        return real_call(self, images, bar)

    monkeypatch.setattr(Extractor, "__call__", counting)
    return calls


def feature_folders():
    return sorted((config.cache_dir() / "features").iterdir())


# ----------------------------------------------------------------------------- weights
def test_output_is_float32_512_finite_and_random_weights_are_loud_once(capfd):
    announce_random_weights.cache_clear()  # as in a fresh kernel
    out = extract_features(random_images(10), "random", resolution=SMALL, batch_size=4, progress=False)
    assert out.shape == (10, 512) and out.dtype == np.float32
    assert np.isfinite(out).all() and out.std(axis=0).max() > 0  # varies across images
    assert capfd.readouterr().err.count("RANDOM WEIGHTS") == 1
    assert "RANDOM" in describe_weights("random")
    cached_features(random_images(4), "random", resolution=SMALL, progress=False)
    assert "RANDOM WEIGHTS" not in capfd.readouterr().err  # once per notebook, not once per call


def test_random_weights_are_seeded_without_touching_the_global_rng():
    state = torch.random.get_rng_state()
    first, first_id = load_backbone("random", "cpu")
    second, _ = load_backbone("random", "cpu")
    assert torch.equal(state, torch.random.get_rng_state())
    assert first_id == "random:seed0"
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), second.state_dict().values()))


@pytest.mark.parametrize("weights", ["", "rand", "none", "imagnet"])
def test_anything_but_the_exact_words_or_a_file_is_refused(weights):
    with pytest.raises(WeightsError, match="'imagenet', 'random' or the path"):
        load_backbone(weights)


def test_weights_kind_goes_by_the_files_sha256_not_its_name(tmp_path, monkeypatch):
    assert IMAGENET_SHA256_PREFIX == "f37072fd"
    imagenet_copy, impostor = tmp_path / "renamed.pth", tmp_path / IMAGENET_FILE
    imagenet_copy.write_bytes(b"stands in for the ImageNet weights")
    impostor.write_bytes(b"other weights under the ImageNet file name")
    # the real file is not here (no internet): let this file's sha256 prefix play the ImageNet one's
    monkeypatch.setattr(feature_weights, "IMAGENET_SHA256_PREFIX", artifacts.sha256_of(imagenet_copy)[:8])
    assert weights_kind(imagenet_copy) == "imagenet"  # so notebook 03 uses the ImageNet floor
    assert weights_kind(impostor) == "file"
    assert weights_kind(" ImageNet ") == "imagenet" and weights_kind("random") == "random"


def test_local_state_dict_gives_the_in_memory_models_features(tmp_path):
    torch.manual_seed(1)
    model = torchvision.models.resnet18().eval()
    file = tmp_path / IMAGENET_FILE
    torch.save(model.state_dict(), file)  # a full state dict, fc.* included, as torchvision ships it

    images = random_images(6)
    loaded, weights_id = load_backbone(file, "cpu")
    assert weights_id == f"file:{artifacts.sha256_of(file)[:12]}"
    out = extract_features(images, file, precision="fp32", resolution=SMALL, progress=False)

    model.fc = torch.nn.Identity()
    with torch.inference_mode():
        expected = model(preprocess(torch.from_numpy(images), SMALL)).numpy()
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())
    assert not np.allclose(out, extract_features(images, "random", resolution=SMALL, progress=False))
    assert str(file) in describe_weights(file)


def test_state_dicts_from_before_num_batches_tracked_still_load(tmp_path):
    reference, _ = load_backbone("random", "cpu")
    old_style = {k: v for k, v in reference.state_dict().items() if not k.endswith("num_batches_tracked")}
    torch.save(old_style, tmp_path / "old.pth")
    loaded, _ = load_backbone(tmp_path / "old.pth", "cpu")
    assert torch.equal(loaded.layer4[1].bn2.running_var, reference.layer4[1].bn2.running_var)


def test_missing_weights_file_says_what_to_pass(tmp_path):
    with pytest.raises(WeightsError, match=r"nowhere\.pth does not exist.*FEATURE_WEIGHTS"):
        extract_features(random_images(2), tmp_path / "nowhere.pth", progress=False)


@pytest.mark.parametrize("content, message", [
    ({"conv1.weight": torch.zeros(64, 3, 7, 7), "head.weight": torch.zeros(1)},
     "missing keys .*unexpected keys .*head.weight"),
    ({"conv1.weight": torch.zeros(8, 3, 3, 3)}, "does not fit ResNet18"),
    ([1, 2, 3], "not a state_dict"),
    (b"not a checkpoint", "not a readable PyTorch state_dict"),
])
def test_wrong_weights_files_are_refused_clearly(tmp_path, content, message):
    file = tmp_path / "weights.pth"
    file.write_bytes(content) if isinstance(content, bytes) else torch.save(content, file)
    with pytest.raises(WeightsError, match=message):
        load_backbone(file)


def test_failed_imagenet_download_explains_the_offline_routes(monkeypatch, tmp_path):
    def no_network(*args, **kwargs):
        raise urllib.error.URLError("no route to host")

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(torchvision.models.WeightsEnum, "get_state_dict", no_network)
    with pytest.raises(WeightsError) as raised:
        extract_features(random_images(2), "imagenet", progress=False)
    message = str(raised.value)
    assert f"FEATURE_WEIGHTS=/path/to/{IMAGENET_FILE}" in message
    assert str(tmp_path / "torch" / "hub" / "checkpoints") in message
    assert "FEATURE_WEIGHTS=random" in message


# ----------------------------------------------------------------------------- input checks
@pytest.mark.parametrize("images", [
    random_images(1)[0],                                   # one image, no batch axis
    random_images(2).transpose(0, 3, 1, 2),                # channels first
    random_images(2).astype(np.float32),                   # not uint8
    random_images(2)[:0],                                  # empty
    random_images(2).tolist(),                             # not an array
])
def test_wrong_images_are_refused_naming_the_expected_layout(images):
    with pytest.raises(ValueError, match=r"images must be .*(\[N, 32, 32, 3\]|NumPy array)"):
        extract_features(images, "random", progress=False)


@pytest.mark.parametrize("option", [{"precision": "fp16"}, {"resolution": 16}, {"batch_size": 0},
                                    {"chunk_size": 0}])
def test_bad_options_are_refused(option):
    with pytest.raises(ValueError, match=next(iter(option))):
        cached_features(random_images(2), "random", progress=False, **option)


# ----------------------------------------------------------------------------- real images
@pytest.mark.parametrize("antialias", [True, False])
def test_preprocessing_equals_torchvision_transforms(real_images, antialias):
    transform = v2.Compose([
        v2.ToImage(), v2.ToDtype(torch.float32, scale=True),
        v2.Resize(224, interpolation=v2.InterpolationMode.BILINEAR, antialias=antialias),
        v2.Normalize(IMAGENET_MEAN, IMAGENET_STD),
    ])
    expected = torch.stack([transform(image) for image in real_images])
    ours = preprocess(torch.from_numpy(real_images), 224)
    assert ours.shape == expected.shape == (64, 3, 224, 224)
    assert (ours - expected).abs().max() < 1e-4


def test_device_choice_is_cuda_then_mps_then_cpu(monkeypatch):
    available = {"cuda": False, "mps": False}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: available["cuda"])
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: available["mps"])
    assert pick_device() == torch.device("cpu")
    available["mps"] = True
    assert pick_device() == torch.device("mps")
    available["cuda"] = True
    assert pick_device() == torch.device("cuda") and pick_device("cpu") == torch.device("cpu")


@pytest.mark.parametrize("native_bf16, expected", [(True, "bf16"), (False, "fp32")])
def test_auto_precision_on_gpus(monkeypatch, native_bf16, expected):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: native_bf16)
    assert resolve_precision("auto", torch.device("cuda")) == expected
    assert resolve_precision("auto", torch.device("mps")) == "fp32"


@pytest.mark.parametrize("device", [
    pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here")),
    pytest.param("mps", marks=pytest.mark.skipif(not torch.backends.mps.is_available(), reason="no Apple MPS device here")),
])
def test_gpu_features_point_where_cpu_ones_do(device):
    images = random_images(32)
    cpu = extract_features(images, "random", device="cpu", precision="fp32", resolution=SMALL, progress=False)
    gpu = extract_features(images, "random", device=device, resolution=SMALL, progress=False)
    cosine = (cpu * gpu).sum(1) / np.linalg.norm(cpu, axis=1) / np.linalg.norm(gpu, axis=1)
    assert gpu.shape == (32, 512) and cosine.min() >= 0.999, f"lowest cosine similarity {cosine.min():.5f}"


def test_precision_choice():
    cpu = torch.device("cpu")
    assert resolve_precision("auto", cpu) == ("bf16" if cpu_supports_bf16() else "fp32")
    assert [resolve_precision(p, cpu) for p in ("fp32", "bf16")] == ["fp32", "bf16"]


def test_bf16_features_point_where_fp32_ones_do(real_images):
    fp32 = extract_features(real_images, "random", precision="fp32", progress=False)
    bf16 = extract_features(real_images, "random", precision="bf16", progress=False)
    cosine = (fp32 * bf16).sum(1) / np.linalg.norm(fp32, axis=1) / np.linalg.norm(bf16, axis=1)
    assert cosine.min() >= 0.999, f"lowest cosine similarity {cosine.min():.5f}"


# ----------------------------------------------------------------------------- cache
def test_cache_is_keyed_by_what_made_the_features(count_extracted):
    images = random_images(20)
    first = cached_features(images, "random", resolution=SMALL, progress=False)
    again = cached_features(images, "random", resolution=SMALL, progress=False)
    assert np.array_equal(first, again) and count_extracted == [20]  # the second call only loads
    cached_features(images[:10], "random", resolution=SMALL, progress=False)
    cached_features(images, "random", resolution=SMALL + 32, progress=False)
    assert count_extracted == [20, 10, 20] and len(feature_folders()) == 3
    manifest = artifacts.read_manifest(feature_folders()[0] / "features.npz")
    assert {"weights_id", "precision", "resolution", "n", "images_sha256"} <= set(manifest["config"])


def test_damaged_chunks_and_results_are_recomputed_not_trusted(monkeypatch, tmp_path, count_extracted):
    images = random_images(128)
    run = dict(weights="random", resolution=SMALL, chunk_size=32, progress=False)
    reference = cached_features(images, **run)
    count_extracted.clear()
    monkeypatch.setenv("BUNDLE_ARTIFACTS", str(tmp_path / "interrupted"))

    def stop_after_two_chunks(file, *args, **kwargs):
        saved(file, *args, **kwargs)
        if file.name == "chunk-00001.npz":
            raise KeyboardInterrupt

    saved = artifacts.save_arrays
    monkeypatch.setattr(artifacts, "save_arrays", stop_after_two_chunks)
    with pytest.raises(KeyboardInterrupt):
        cached_features(images, **run)
    monkeypatch.setattr(artifacts, "save_arrays", saved)
    (folder,) = feature_folders()
    (folder / "chunk-00000.npz").write_bytes(b"damaged")  # chunk 1 stays good

    count_extracted.clear()
    assert np.array_equal(cached_features(images, **run), reference)
    assert count_extracted == [32, 32, 32]  # chunks 0, 2, 3
    assert sorted(p.name for p in folder.iterdir()) == ["features.npz", "features.npz.manifest.json"]

    with open(folder / "features.npz", "r+b") as fh:  # a damaged final file
        fh.seek(200), fh.write(b"\x00" * 8)
    count_extracted.clear()
    assert np.array_equal(cached_features(images, **run), reference)
    assert count_extracted == [32] * 4


CHILD = textwrap.dedent("""
    import sys
    import time
    import numpy as np
    from helpers.features.cache import cache_entry, cached_features
    from helpers.features.extract import Extractor

    real_call = Extractor.__call__

    def slow_call(self, images, bar):  # leaves time to kill the run between chunks
        out = real_call(self, images, bar)
        time.sleep(2)
        return out

    Extractor.__call__ = slow_call
    images = np.random.default_rng(0).integers(0, 256, (256, 32, 32, 3), dtype=np.uint8)
    cached_features(images, "random", resolution=int(sys.argv[1]), chunk_size=64, progress=False)
""")


def test_a_killed_extraction_resumes_where_it_stopped(monkeypatch, tmp_path, count_extracted):
    images = random_images(256)
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(SMALL)], env=dict(os.environ),
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    try:
        while not list((config.cache_dir() / "features").glob("*/chunk-00000.npz.manifest.json")):
            assert child.poll() is None, f"the extraction child died: {child.stderr.read().decode()[-2000:]}"
            assert time.monotonic() < deadline, "no chunk appeared within 120 s"
            time.sleep(0.02)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stderr.close()
    (folder,) = feature_folders()
    finished = len(list(folder.glob("chunk-*.npz.manifest.json")))
    assert 1 <= finished < 4 and not (folder / "features.npz").exists()

    resumed = cached_features(images, "random", resolution=SMALL, chunk_size=64, progress=False)
    assert sum(count_extracted) == 256 - 64 * finished  # finished chunks were loaded, not recomputed

    monkeypatch.setenv("BUNDLE_ARTIFACTS", str(tmp_path / "uninterrupted"))
    uninterrupted = cached_features(images, "random", resolution=SMALL, chunk_size=64, progress=False)
    assert np.array_equal(resumed, uninterrupted)


# ----------------------------------------------------------------------------- backends, calibrated weights
@pytest.fixture(scope="module")
def calibrated(real_images, tmp_path_factory):
    """A ResNet18 file whose batch norms have real statistics and affine parameters, and its fp32 reference.

    A fresh network has running mean 0 / variance 1 and weight 1 / bias 0, under which folding batch
    norm is nearly the identity, so a folding or preprocessing mistake would go unseen. Here the
    statistics come from train-mode passes over real images, and the affine parameters are random.
    """
    torch.manual_seed(1)
    model = torchvision.models.resnet18(weights=None)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.5, 0.5)
                module.momentum = None  # running statistics: the plain average over the passes
        model.train()
        for chunk in preprocess(torch.from_numpy(real_images), SMALL).split(16):
            model(chunk)
    model.eval()
    file = tmp_path_factory.mktemp("weights") / "calibrated.pth"
    torch.save(model.state_dict(), file)
    model.fc = torch.nn.Identity()
    with torch.inference_mode():  # plain torchvision, fp32, no folding, contiguous layout
        reference = model(preprocess(torch.from_numpy(real_images), SMALL)).numpy()
    variances = torch.cat([m.running_var for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)])
    assert (variances - 1).abs().mean() > 0.1, "calibration left the statistics near 0/1"
    return file, reference


def cosines(a, b):
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
@pytest.mark.parametrize("backend", ["eager", "compiled"])
def test_every_path_matches_fp32_torchvision_with_calibrated_batch_norm(calibrated, real_images, precision, backend):
    file, reference = calibrated
    if backend == "compiled" and cxx_compiler() is None:
        pytest.skip("torch.compile needs a C++ compiler")
    ours = extract_features(real_images, file, precision=precision, backend=backend, resolution=SMALL,
                                     batch_size=24, progress=False)  # 64 = 2 full batches + a padded one
    assert cosines(ours, reference).min() >= 0.999
    if precision == "fp32":
        np.testing.assert_allclose(ours, reference, rtol=1e-3, atol=1e-3 * np.abs(reference).max())


def test_the_calibrated_check_would_see_a_folding_mistake(calibrated, real_images):
    file, reference = calibrated
    state = torch.load(file, weights_only=True)
    for key in state:  # forget the statistics: what a fold that ignored them would compute
        if key.endswith("running_mean"):
            state[key].zero_()
        elif key.endswith("running_var"):
            state[key].fill_(1)
    torch.save(state, file.with_name("forgetful.pth"))
    wrong = extract_features(real_images, file.with_name("forgetful.pth"), precision="fp32",
                                      backend="eager", resolution=SMALL, progress=False)
    assert cosines(wrong, reference).min() < 0.99


def test_auto_backend_compiles_only_large_cpu_jobs_and_says_why_when_it_cannot(monkeypatch, capsys):
    cpu = torch.device("cpu")
    assert resolve_backend("auto", cpu, COMPILE_MIN_IMAGES - 1) == "eager"
    assert resolve_backend("eager", cpu, 10**6) == "eager"
    assert resolve_backend("compiled", cpu, 1) == "compiled"
    monkeypatch.setattr(device_policy, "cxx_compiler", lambda: None)
    assert resolve_backend("auto", cpu, 10**6) == "eager"
    assert "needs a C++ compiler" in capsys.readouterr().err
    monkeypatch.setattr(device_policy, "cxx_compiler", lambda: "/usr/bin/g++")
    assert resolve_backend("auto", cpu, 10**6) == "compiled"
    with pytest.raises(ValueError, match="backend='jit'"):
        resolve_backend("jit", cpu, 1)


def broken_compile(message: str):
    """A stand-in for torch.compile whose compiled models raise RuntimeError(message) when called."""
    def compile_(model, **kwargs):
        def compiled(x):
            raise RuntimeError(message)
        return compiled
    return compile_


def test_a_failing_compiler_steps_down_every_path_to_the_eager_features(monkeypatch, capfd):
    images = random_images(5)
    eager = extract_features(images, "random", resolution=SMALL, backend="eager", progress=False)
    monkeypatch.setattr(torch, "compile", broken_compile("InductorError: C++ compile error\nmore detail"))
    fallback = extract_features(images, "random", resolution=SMALL, backend="compiled", progress=False)
    assert np.array_equal(fallback, eager)
    err = capfd.readouterr().err
    assert ("torch.compile failed on path compiled-frozen (RuntimeError: InductorError: C++ compile error): "
            "extracting with compiled instead") in err
    assert "failed on path compiled (RuntimeError: InductorError: C++ compile error): extracting with eager" in err


def test_a_failing_freezing_steps_down_to_compiled_without_it(monkeypatch, capfd):
    """Freezing fails (say oneDNN cannot prepack here): the unfrozen compiled path takes over, announced."""
    images = random_images(5)
    real_compile, freezing_seen = torch.compile, []

    def compile_refusing_freezing(model, **kwargs):
        compiled = real_compile(model, **kwargs)

        def run(x):
            freezing_seen.append(torch._inductor.config.freezing)
            if torch._inductor.config.freezing:
                raise RuntimeError("freezing: cannot prepack")
            return compiled(x)
        return run

    monkeypatch.setattr(torch, "compile", compile_refusing_freezing)
    extractor = Extractor(load_backbone("random", torch.device("cpu"))[0], torch.device("cpu"), "fp32", SMALL, 4, "compiled")
    assert extractor.warm_up(announce=True) == "compiled" and freezing_seen[:2] == [True, False]
    features = extractor(images, progress_bar(5, False, ""))
    out, err = capfd.readouterr()
    assert "failed on path compiled-frozen (RuntimeError: freezing: cannot prepack): extracting with compiled" in err
    assert "features: compiled path, fp32 on cpu" in out
    eager = extract_features(images, "random", resolution=SMALL, backend="eager", precision="fp32", progress=False)
    np.testing.assert_allclose(features, eager, rtol=1e-3, atol=1e-3 * np.abs(eager).max())


def test_a_path_failing_part_way_recomputes_the_chunk_on_one_path(monkeypatch):
    extractor = Extractor(load_backbone("random", torch.device("cpu"))[0], torch.device("cpu"), "fp32", SMALL, 2, "eager")
    calls = []
    real = extractor._features

    def flaky(batch):  # the first batch made on the (pretended) frozen path, then a step down to eager
        calls.append(len(batch))
        extractor.path = "eager"
        out = real(batch)
        extractor.path = "compiled-frozen" if len(calls) == 1 else "eager"
        return out

    monkeypatch.setattr(extractor, "_features", flaky)
    extractor(random_images(4), progress_bar(4, False, ""))
    assert len(calls) == 4  # 2 batches, then all of them again on the path that works


def test_cache_entries_tell_the_paths_apart_and_a_step_down_is_stored_as_such(monkeypatch, count_extracted):
    images = random_images(6)
    eager = cached_features(images, "random", resolution=SMALL, backend="eager", progress=False)
    monkeypatch.setattr(torch, "compile", broken_compile("no compiler"))
    again = cached_features(images, "random", resolution=SMALL, backend="compiled", progress=False)
    assert np.array_equal(again, eager) and count_extracted == [6]  # stepped down to eager: the eager entry
    names = [folder.name for folder in feature_folders()]
    assert len(names) == 1 and "-eager-" in names[0]
    _, frozen = cache_entry(images, "random", "bf16", "compiled-frozen", SMALL)
    _, unfrozen = cache_entry(images, "random", "bf16", "compiled", SMALL)
    assert len({frozen, unfrozen, feature_folders()[0]}) == 3


def test_the_path_is_announced_with_the_cpu(capfd):
    extract_features(random_images(2), "random", resolution=SMALL, backend="eager", progress=True)
    assert re.search(r"features: eager path, (bf16|fp32) on cpu \(\w+, ", capfd.readouterr().out)


def test_the_time_left_is_estimated_once_from_the_first_measured_batches(capfd):
    """After batches 1-3 of 2 images (batch 0 may still warm caches), 4 of 12 images are left; said once."""
    extract_features(random_images(12), "random", batch_size=2, resolution=SMALL, backend="eager", progress=True)
    out = capfd.readouterr().out
    found = re.findall(r"features: ([\d,]+) images to go at ([\d.,]+) img/s \(measured on the eager path\): about (\d+) min", out)
    assert len(found) == 1 and found[0][0] == "4" and float(found[0][1].replace(",", "")) > 0, out


def test_the_cpu_description_names_the_bf16_unit_and_missing_bf16_keeps_fp32(monkeypatch):
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True, raising=False)
    assert "AMX" in device_policy.describe_cpu()
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False, raising=False)
    assert "no native bf16" in device_policy.describe_cpu()
    assert device_policy.resolve_precision("auto", torch.device("cpu")) == "fp32"
