"""What the student release ships: the one allow-list, and what is the instructor's alone.

Every file git tracks matches exactly one of :data:`SHIPS` and :data:`INSTRUCTOR_ONLY`
(``tests/test_release.py`` checks it, so a new file is classified when it is added, never shipped
by default). A release holds the files of :data:`SHIPS` (their solution regions stubbed, see
``instructor/release.py``) plus :data:`GENERATED`, and nothing else. Patterns are ``fnmatch``
patterns on repository-relative POSIX paths (``*`` also crosses ``/``).

The shipped tests are the student-facing ones: with correct functions every one passes, and with
the stubs only those that run a graded function fail, each with the stub's message naming it.
"""
from __future__ import annotations

from fnmatch import fnmatchcase

SHIPS = (
    # the project itself: set-up, licence, lock, conda environment
    ".gitignore", "LICENSE", "Makefile", "conftest.py", "pyproject.toml", "requirements.txt", "environment.yml", "settings.toml",
    "artifacts/README.md",
    # the library (graded functions stubbed) and the notebooks
    "helpers/*", "notebooks/*.ipynb",
    # the student's own grade (visible tests only) and the scripts a student runs
    "grading/__init__.py", "grading/batch.py", "grading/boundary.py", "grading/grader.py", "grading/plugin.py",
    "grading/rubric.py", "grading/sandbox.py", "grading/worker.py",
    "scripts/grade.py", "scripts/run_notebooks.py", "scripts/notebook_html.py", "scripts/make_submission.py",
    "scripts/benchmark_report.py", "scripts/browser_check.py",
    "benchmarks/bench_augment.py", "benchmarks/bench_conv.py", "benchmarks/bench_features.py",
    "benchmarks/bench_mlp.py", "benchmarks/record.py", "benchmarks/timing.py",
    # the student-facing documentation
    "docs/BENCHMARKS.md", "docs/CONFIGURATION.md", "docs/DEVELOPING.md", "docs/INSTALL.md", "docs/RESULTS.md",
    "docs/run_times.json", "docs/ACCESSIBILITY.md",
    # the student-facing tests
    "tests/conftest.py", "tests/colab_simulation.py", "tests/graded_checks.py", "tests/data/legacy_models/*",
    "tests/test_artifacts.py", "tests/test_augment.py", "tests/test_batchnorm.py", "tests/test_benchmark_report.py",
    "tests/test_browser.py",
    "tests/test_config.py", "tests/test_contracts.py", "tests/test_conv.py", "tests/test_data.py", "tests/test_depth_study.py",
    "tests/test_docs.py", "tests/test_download.py", "tests/test_dropout.py", "tests/test_features.py",
    "tests/test_graded.py", "tests/test_layers.py", "tests/test_legacy.py", "tests/test_lint.py",
    "tests/test_metrics.py", "tests/test_nbval_patience.py", "tests/test_nn.py", "tests/test_notebook_cells.py", "tests/test_notebook_samples.py",
    "tests/test_notebooks_clean.py", "tests/test_packaging.py", "tests/test_plots.py", "tests/test_preprocess.py",
    "tests/test_progress.py", "tests/test_rubric.py", "tests/test_run_dead_kernel.py", "tests/test_run_summary.py", "tests/test_runtime.py", "tests/test_search.py",
    "tests/test_shared_data.py", "tests/test_show.py", "tests/test_submission.py", "tests/test_vectorised.py",
)

INSTRUCTOR_ONLY = (
    "README.md",  # the release writes its own (instructor/student_readme.md)
    ".ci/*", "instructor/*",  # CI; the release tools, the hidden tests, the plain implementations
    "docs/GRADING.md", "docs/INSTRUCTORS.md", "docs/STARTER.md",  # how the grader and the hidden tests work
    "grading/gradescope.py", "scripts/make_autograder.py", "scripts/grade_all.py",  # class grading, Gradescope
    "grading/report.py", "grading/similarity.py", "grading/export.py",  # the class report, similarity, LMS exports
    "benchmarks/bench_grading.py", "benchmarks/bench_similarity.py",
    # tests of the instructor's tools and of the grader's internals (they need instructor/ or the solution)
    "tests/test_release.py", "tests/test_starter.py", "tests/test_solution_pins.py", "tests/test_grade_all.py",
    "tests/test_grader_isolation.py", "tests/test_graded_kinds.py", "tests/test_release_project.py",
    "tests/test_graded_messages.py", "tests/plausible_mistakes.py", "tests/test_grader_attacks.py", "tests/test_similarity.py", "tests/test_export.py",
    "tests/similarity_class.py", "tests/data/similarity/*",
    # the WCAG 2.1 AA check (axe-core from npm in Chromium): it checks the class report too
    "package.json", "package-lock.json", "scripts/check_accessibility.py", "tests/test_accessibility.py",
)

GENERATED = ("README.md", ".student-release")  # written by the release itself

# Lines between these markers, in the Makefile (the class-grading and Gradescope targets) or a shipped Markdown
# page (as HTML comments, ``<!-- BEGIN INSTRUCTOR ONLY -->``), are left out of the release.
INSTRUCTOR_BEGIN, INSTRUCTOR_END = "BEGIN INSTRUCTOR ONLY", "END INSTRUCTOR ONLY"
STRIPPED = ("Makefile", "*.md")  # the shipped files where the markers count


def matches(name: str, patterns: tuple[str, ...]) -> bool:
    """Whether the repository-relative path ``name`` matches one of ``patterns``."""
    return any(fnmatchcase(name, pattern) for pattern in patterns)


def ships(name: str) -> bool:
    """Whether a tracked file goes into the release."""
    return matches(name, SHIPS) and not matches(name, INSTRUCTOR_ONLY)


def unclassified(names: list[str]) -> list[str]:
    """The files that match neither list, or both: each must be in exactly one."""
    return [name for name in names if matches(name, SHIPS) == matches(name, INSTRUCTOR_ONLY)]


def strip_instructor_blocks(text: str) -> str:
    """``text`` without the lines from an INSTRUCTOR_BEGIN line to the next INSTRUCTOR_END line (both included)."""
    kept, inside = [], False
    for line in text.splitlines(keepends=True):
        if INSTRUCTOR_BEGIN in line:
            inside = True
        elif INSTRUCTOR_END in line:
            inside = False
        elif not inside:
            kept.append(line)
    return "".join(kept)
