"""What grading a class costs: one submission (seconds, peak memory), grade-all with 1 and 2 workers, projections.

Every archive is the solution's ``helpers/`` packed source-only (as ``tests/test_grade_all.py``
does), each with a different comment so that each is graded. The single grade runs
``scripts/grade.py --submission`` in a child process and reads the peak resident memory of its
largest descendant (the grader or one worker) from ``resource.getrusage(RUSAGE_CHILDREN)``.
The projection for a 16-core machine divides the measured 1-worker time per submission by the
measured speed-up per added worker, extrapolated linearly up to 16 workers (an optimistic
figure: memory bandwidth and the grader's own start limit the scaling); a second projection
divides the CPU time of one grade by the cores (what idle cores would give: on a busy machine
the wall times above include waiting for the CPU). Prints one line per
figure and a last line ``single_s=... peak_mib=... per_submission_1w_s=... speedup_2w=...``.

    python benchmarks/bench_grading.py [--n 4] [--only f1,f2] [--workers 1,2]
"""
import argparse
import resource
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


def single_grade(archive: Path, only: str) -> tuple[float, float, float]:
    """``(wall seconds, peak MiB of the largest process, CPU seconds of all)`` of ``scripts/grade.py --submission``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([sys.executable, str(REPO / "scripts" / "grade.py"), "--submission", str(archive), "--only", only],
                   check=True, capture_output=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return wall, after.ru_maxrss / 1024, cpu  # ru_maxrss: KiB on Linux


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4, help="archives per grade-all run")
    parser.add_argument("--only", default="", help="graded functions (default: all)")
    parser.add_argument("--workers", default="1,2", help="worker counts to measure")
    args = parser.parse_args()
    counts = [int(w) for w in args.workers.split(",")]
    if args.n < max(counts):
        parser.error("--n must be at least the largest worker count, or the extra workers have nothing to grade")
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
        (Path(tmp) / "class").mkdir()
        archives = solution_archives(Path(tmp), args.n)
        wall, peak_mib, cpu = single_grade(archives[0], args.only)
        print(f"one submission: {wall:.1f} s wall, {cpu:.1f} s CPU (all processes), peak {peak_mib:.0f} MiB in one process")
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
    print(f"single_s={wall:.1f} peak_mib={peak_mib:.0f} per_submission_1w_s={per_submission[one]:.1f} "
          f"speedup_2w={per_submission[one] / per_submission[more]:.2f}")
    figures = [record.figure("one submission, wall", wall, "s"), record.figure("one submission, CPU (all processes)", cpu, "s"),
               record.figure("one submission, peak memory of one process", peak_mib, "MiB")]
    figures += [record.figure(f"grade-all, {workers} worker(s), per submission", seconds, "s")
                for workers, seconds in per_submission.items()]
    figures += [record.figure(f"projection: {students} students on {CORES} cores", hours[students], "h")
                for students in hours]
    record.write("bench_grading", title=f"grading {args.n} solution archives ({args.only or 'all functions'})",
                 helper=record.figure(f"grade-all, {more} workers, per submission", per_submission[more], "s"),
                 baseline=record.figure(f"grade-all, {one} worker, per submission", per_submission[one], "s"),
                 settings=vars(args), figures=figures)


if __name__ == "__main__":
    main()
