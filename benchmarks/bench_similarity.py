"""Finding copied submissions: this grader's similarity beside copydetect alone, on one class; cost at 300, projected to 3,000.

The class is tests/similarity_class.py's: 7 independent submissions (the solution, instructor/plain,
three more authors of tests/data/similarity/ of whom one is partly wrong, two untouched releases)
and 26 planted copies (each author's code renamed, reordered, reformatted, with dead code, all four;
plain renamed with mistakes). A pair is planted when both are the same author's code. Both methods
see the same sources in the same run:

- this grader (grading/similarity.py): per-function fingerprints of normalised ASTs less the
  release's, pairs flagged at its threshold;
- copydetect alone: one document per submission (its graded files), copydetect's CodeFingerprint
  with the release as boilerplate (its defaults: noise 25, guarantee 25), flagged at copydetect's display
  threshold (0.33) on the larger of the pair's two similarities.

Then the cost: ``--n`` submissions (the class's repeated, each with its own trailing comment):
fingerprints (linear in n), all pairs (quadratic), and a rerun after one submission changed
(one row); peak memory of the process. Projected to 3,000: fingerprints x10, all pairs x100, the
one-row update x10 (plus its linear matrix build), pair matrices' memory x100.

    python benchmarks/bench_similarity.py [--n 300]
"""
import argparse
import io
import itertools
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout: helpers, grading
from helpers.core.config import REPO_ROOT as REPO
sys.path.insert(0, str(REPO / "tests"))

import record
import similarity_class
from grading import similarity

TARGET = 3000


def judge(names: list[str], flagged: set[tuple[int, int]]) -> dict:
    """Recall on the planted pairs and false pairs among the independent ones."""
    planted = found = false = independent = 0
    for i, j in itertools.combinations(range(len(names)), 2):
        same = similarity_class.origin(names[i]) == similarity_class.origin(names[j])
        planted += same
        found += same and (i, j) in flagged
        independent += not same
        false += (not same) and (i, j) in flagged
    return {"planted": planted, "found": found, "recall": found / planted, "independent": independent, "false": false}


def ours(students: dict) -> tuple[set, float]:
    started = time.perf_counter()
    names = list(students)
    pairs = similarity.compare([similarity.fingerprints(students[n]) for n in names], names)
    return set(similarity.flagged(pairs)), time.perf_counter() - started


def copydetect_alone(students: dict) -> tuple[set, float]:
    from copydetect import CodeFingerprint, compare_files, defaults

    started = time.perf_counter()
    release = similarity.release_code()[1]
    window = defaults.GUARANTEE_THRESHOLD - defaults.NOISE_THRESHOLD + 1

    def document(texts):
        return "\n".join(texts[file] for file in sorted(release) if file in texts)

    base = np.array(sorted(CodeFingerprint("release.py", defaults.NOISE_THRESHOLD, window, fp=io.StringIO(document(release))).hashes))
    prints = [CodeFingerprint(f"{name}.py", defaults.NOISE_THRESHOLD, window, boilerplate=base,
                              fp=io.StringIO(document(texts))) for name, texts in students.items()]
    flagged = set()
    for i, j in itertools.combinations(range(len(prints)), 2):
        _, (a, b), _ = compare_files(prints[i], prints[j])
        if max(a, b) >= defaults.DISPLAY_THRESHOLD:
            flagged.add((i, j))
    return flagged, time.perf_counter() - started


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def cost(students: dict, n: int) -> dict:
    """Seconds to fingerprint ``n`` submissions, compare all pairs, and update after one changed; peak MiB."""
    names = [f"{name}-{k}" for k, name in zip(range(n), itertools.cycle(students))]
    texts = [{f: t + f"\n# {name}\n" for f, t in students[name.rsplit("-", 1)[0]].items()} for name in names]
    started = time.perf_counter()
    prints = [similarity.fingerprints(t) for t in texts]
    fingerprint_s = time.perf_counter() - started
    started = time.perf_counter()
    pairs = similarity.compare(prints, names)
    pairs_s = time.perf_counter() - started
    changed = [*names[:-1], "changed"]
    prints[-1] = similarity.fingerprints({f: t + "\n# changed\n" for f, t in texts[-1].items()})
    started = time.perf_counter()
    similarity.compare(prints, changed, pairs)
    update_s = time.perf_counter() - started
    matrices_mib = sum(value.nbytes for value in pairs.values()) / 2**20
    return {"fingerprint_s": fingerprint_s, "pairs_s": pairs_s, "update_s": update_s, "matrices_mib": matrices_mib,
            "peak_mib": peak_mib(), "per_submission_s": fingerprint_s / n}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300, help="submissions for the cost measurement")
    args = parser.parse_args()
    students = similarity_class.build_class()
    names = list(students)
    mine, mine_s = ours(students)
    theirs, theirs_s = copydetect_alone(students)
    a, b = judge(names, mine), judge(names, theirs)
    print(f"class: {len(names)} submissions, {a['planted']} planted pairs, {a['independent']} independent pairs")
    for label, result, seconds in (("this grader", a, mine_s), ("copydetect alone", b, theirs_s)):
        print(f"{label}: {result['found']}/{result['planted']} planted pairs found (recall {result['recall']:.3f}), "
              f"{result['false']} false pairs among {result['independent']} independent; {seconds:.1f} s")
    c = cost(students, args.n)
    scale = TARGET / args.n
    projected = {"fingerprint_s": c["fingerprint_s"] * scale, "pairs_s": c["pairs_s"] * scale ** 2,
                 "update_s": c["update_s"] * scale, "matrices_mib": c["matrices_mib"] * scale ** 2}
    print(f"{args.n} submissions: fingerprints {c['fingerprint_s']:.1f} s, all pairs {c['pairs_s']:.2f} s, update after "
          f"one changed {c['update_s']:.2f} s, pair matrices {c['matrices_mib']:.1f} MiB, process peak {c['peak_mib']:.0f} MiB")
    print(f"projected to {TARGET}: fingerprints {projected['fingerprint_s']:.0f} s (once; cached), all pairs "
          f"{projected['pairs_s']:.0f} s, update after one changed {projected['update_s']:.1f} s, pair matrices "
          f"{projected['matrices_mib']:.0f} MiB")
    figures = [record.figure("this grader: planted pairs found", a["found"], f"of {a['planted']}"),
               record.figure("this grader: false pairs", a["false"], f"of {a['independent']}"),
               record.figure("copydetect alone: planted pairs found", b["found"], f"of {b['planted']}"),
               record.figure("copydetect alone: false pairs", b["false"], f"of {b['independent']}"),
               record.figure("this grader: the class's similarity", mine_s, "s"),
               record.figure("copydetect alone: the class's similarity", theirs_s, "s")]
    figures += [record.figure(f"{args.n} submissions: {key}", value, "MiB" if "mib" in key else "s") for key, value in c.items()]
    figures += [record.figure(f"projected to {TARGET}: {key}", value, "MiB" if "mib" in key else "s")
                for key, value in projected.items()]
    record.write("bench_similarity", title=f"finding planted copies in a class of {len(names)} (recall on planted pairs)",
                 helper=record.figure(f"this grader, {a['false']} false pairs", a["recall"], "recall"),
                 baseline=record.figure(f"copydetect alone, {b['false']} false pairs", b["recall"], "recall"),
                 target="every planted pair found, no false pair", settings=vars(args), figures=figures)


if __name__ == "__main__":
    main()
