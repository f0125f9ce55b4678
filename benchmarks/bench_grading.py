"""What grading a class costs: one submission (seconds, peak memory) beside an earlier grader, grade-all, projections.

Every archive is the solution's ``helpers/`` packed source-only (as ``tests/test_grade_all.py``
does), each with a different comment so that each is graded. The single grade runs
``scripts/grade.py --submission`` in a child process (the median of ``--repeat`` runs) and
reads the peak resident memory of its largest descendant (the grader or one worker) from
``resource.getrusage(RUSAGE_CHILDREN)``. The baseline is the same grade by the grader of an
earlier commit (``--baseline``, default the one before the sandbox: one worker process started
through ``unshare`` per graded function), unpacked with ``git archive`` and run in the same
environment, alternating with the current one.
The projection for a 16-core machine divides the measured 1-worker time per submission by the
measured speed-up per added worker, extrapolated linearly up to 16 workers (an optimistic
figure: memory bandwidth and the grader's own start limit the scaling); a second projection
divides the CPU time of one grade by the cores (what idle cores would give: on a busy machine
the wall times above include waiting for the CPU). Prints one line per
figure and a last line ``single_s=... peak_mib=... per_submission_1w_s=... speedup_2w=...``.

    python benchmarks/bench_grading.py [--n 4] [--only f1,f2] [--workers 1,2] [--baseline REV] [--repeat 3]
"""
import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout: helpers, grading
from helpers.core.config import REPO_ROOT as REPO
sys.path.insert(0, str(REPO / "tests"))

import record
from grading.batch import grade_all
from test_grade_all import pack_source

CORES = 16  # the machine the projection is for
BASELINE = "50889f6"  # the last grader that started one unshare'd worker process per graded function


def solution_archives(folder: Path, n: int) -> list[Path]:
    """``n`` archives of the solution, each with its own comment (own sha256)."""
    copy = folder / "copy"
    shutil.copytree(REPO / "helpers", copy / "helpers", ignore=shutil.ignore_patterns("__pycache__"))
    init = copy / "helpers" / "__init__.py"
    original = init.read_text()
    archives = []
    for index in range(n):
        init.write_text(original + f"\n# student {index}\n")
        archives.append(pack_source(copy, folder / "class" / f"student{index:03d}.zip"))
    return archives


def single_grade(archive: Path, only: str, tree: Path = REPO) -> tuple[float, float, float]:
    """``(wall seconds, peak MiB of the largest process, CPU seconds of all)`` of ``tree``'s ``scripts/grade.py
    --submission`` (run from a fresh child, so the peak is this grade's alone)."""
    code = ("import resource, subprocess, sys, time; started = time.perf_counter(); "
            "subprocess.run(sys.argv[1:], check=True, capture_output=True); wall = time.perf_counter() - started; "
            "usage = resource.getrusage(resource.RUSAGE_CHILDREN); "
            "print(wall, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime)")  # ru_maxrss: KiB on Linux
    run = subprocess.run([sys.executable, "-c", code, sys.executable, str(tree / "scripts" / "grade.py"),
                          "--submission", str(archive), "--only", only], check=True, capture_output=True, text=True)
    wall, peak, cpu = map(float, run.stdout.split())
    return wall, peak, cpu


def earlier_tree(revision: str, folder: Path) -> Path:
    """This repository's files at ``revision`` (``git archive``), for the baseline grader."""
    folder.mkdir()
    archive = subprocess.run(["git", "-C", str(REPO), "archive", revision], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def median_grade(archive: Path, only: str, trees: dict[str, Path], repeat: int) -> dict[str, tuple]:
    """Per tree, the run of median wall time among ``repeat`` alternating runs."""
    runs = {name: [] for name in trees}
    for _ in range(repeat):
        for name, tree in trees.items():
            runs[name].append(single_grade(archive, only, tree))
    return {name: sorted(values)[len(values) // 2] for name, values in runs.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4, help="archives per grade-all run")
    parser.add_argument("--only", default="", help="graded functions (default: all)")
    parser.add_argument("--workers", default="1,2", help="worker counts to measure")
    parser.add_argument("--baseline", default=BASELINE, help=f"the earlier grader's commit (default {BASELINE[:7]})")
    parser.add_argument("--repeat", type=int, default=3, help="single grades per grader (the median is kept)")
    args = parser.parse_args()
    counts = [int(w) for w in args.workers.split(",")]
    if args.n < max(counts):
        parser.error("--n must be at least the largest worker count, or the extra workers have nothing to grade")
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
        (Path(tmp) / "class").mkdir()
        archives = solution_archives(Path(tmp), args.n)
        trees = {"current": REPO, "baseline": earlier_tree(args.baseline, Path(tmp) / "baseline")}
        singles = median_grade(archives[0], args.only, trees, args.repeat)
        for name, (wall, peak_mib, cpu) in singles.items():
            print(f"one submission, {name} grader: {wall:.1f} s wall, {cpu:.1f} s CPU (all processes), "
                  f"peak {peak_mib:.0f} MiB in one process")
        wall, peak_mib, cpu = singles["current"]
        base_wall, base_peak, base_cpu = singles["baseline"]
        per_submission = {}
        for workers in counts:
            started = time.perf_counter()
            records = grade_all(Path(tmp) / "class", Path(tmp) / f"grades-{workers}", workers=workers, only=args.only,
                                log=None)
            seconds = time.perf_counter() - started
            assert all(record["status"] == "graded" for record in records), [r["reason"] for r in records]
            per_submission[workers] = seconds / len(records)
            baseline = per_submission[min(per_submission)]
            print(f"grade-all, {workers} worker(s): {len(records)} archives in {seconds:.1f} s = "
                  f"{per_submission[workers]:.1f} s per submission, {3600 / per_submission[workers]:.0f} per hour "
                  f"(x{baseline / per_submission[workers]:.2f} the 1-worker baseline)")
    one, more = min(per_submission), max(per_submission)
    gain_per_worker = ((per_submission[one] / per_submission[more]) - 1) / max(more - one, 1)
    speedup_16 = max(1.0, 1 + gain_per_worker * (CORES - 1))
    hours = {students: students * per_submission[one] / speedup_16 / 3600 for students in (300, 3000)}
    for students in hours:
        print(f"projection, {students} students on {CORES} cores ({CORES} workers, x{speedup_16:.1f}): "
              f"{hours[students]:.2f} h; memory: {CORES} x {peak_mib:.0f} MiB peak in the largest process of each grade")
        print(f"projection, {students} students on {CORES} idle cores from CPU time alone ({cpu:.1f} s each): "
              f"{students * cpu / CORES / 3600:.2f} h")
    print(f"single_s={wall:.1f} baseline_single_s={base_wall:.1f} peak_mib={peak_mib:.0f} "
          f"per_submission_1w_s={per_submission[one]:.1f} speedup_2w={per_submission[one] / per_submission[more]:.2f}")
    figures = [record.figure("one submission, wall", wall, "s"), record.figure("one submission, CPU (all processes)", cpu, "s"),
               record.figure("one submission, peak memory of one process", peak_mib, "MiB"),
               record.figure(f"one submission, wall, grader of {args.baseline[:7]}", base_wall, "s"),
               record.figure(f"one submission, CPU, grader of {args.baseline[:7]}", base_cpu, "s"),
               record.figure(f"one submission, peak memory, grader of {args.baseline[:7]}", base_peak, "MiB")]
    figures += [record.figure(f"grade-all, {workers} worker(s), per submission", seconds, "s")
                for workers, seconds in per_submission.items()]
    figures += [record.figure(f"projection: {students} students on {CORES} cores", hours[students], "h")
                for students in hours]
    record.write("bench_grading", title=f"grading solution archives ({args.only or 'all functions'})",
                 helper=record.figure("one submission, wall (one sandbox, forked workers)", wall, "s"),
                 baseline=record.figure(f"one submission, wall, grader of {args.baseline[:7]} (a process per function)",
                                        base_wall, "s"),
                 settings=vars(args), figures=figures)


if __name__ == "__main__":
    main()
