# Entry points: `make run` executes every notebook top to bottom; `make test` runs the tests.
# Both create the virtual environment and install the pinned dependencies when needed.
# Data: helpers.config finds the offline copies in ../shared/data beside the checkout (this
# project's machines have no internet); elsewhere the loaders download the official archives.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup run lab test unit browser-test browser-smoke benchmarks report submission inference grade clean
# BEGIN INSTRUCTOR ONLY (left out of the student release: instructor/manifest.py)
.PHONY: release grade-all autograder accessibility
# END INSTRUCTOR ONLY

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

setup: $(STAMP)

# The main job: BUNDLE_PROFILE=full by default, ImageNet weights unless FEATURE_WEIGHTS says otherwise.
# FROM=03 starts at notebook 03 and reuses what 01 and 02 saved. Ends with a summary (wall times,
# headline figures), also in artifacts/<profile>/run_summary.json.
run: $(STAMP)
	$(PY) scripts/run_notebooks.py $(if $(FROM),--from $(FROM))

# JupyterLab on the notebooks, in the environment `make setup` made (profile and weights: settings.toml);
# kernels on local sockets, which no other user of the machine can listen to.
lab: $(STAMP)
	$(VENV)/bin/jupyter lab --KernelManager.transport=ipc notebooks/

# Unit tests, then nbval over the notebooks, in the smoke profile. The tests check code, not
# weights, so they use random ResNet18 weights unless FEATURE_WEIGHTS is set. NBVAL_KERNEL: the
# Jupyter kernel the notebooks run in (CI: a plain pip install's, see .ci/run). The unit tests
# run in TEST_WORKERS processes (pytest-xdist; a file's tests stay together, so its fixtures are
# made once); the notebooks run after them, in order, as each reads what the one before saved.
NBVAL_KERNEL ?= python3
TEST_WORKERS ?= 2
# `make unit`: the unit tests alone.
test unit: export BUNDLE_PROFILE := smoke
test unit: export FEATURE_WEIGHTS ?= random
unit: $(STAMP)
	$(PY) -m pytest tests -n $(TEST_WORKERS) --dist loadfile -q

test: unit
	$(PY) -m pytest notebooks --nbval-lax --nbval-cell-timeout=900 --nbval-kernel-name=$(NBVAL_KERNEL) -q

# The notebooks in JupyterLab, in a real browser (scripts/browser_check.py): a Jupyter server on a free local
# port serves a temporary copy of the checkout, headless Chromium (the system's, through the system's
# chromedriver; Selenium downloads nothing) runs all cells of notebooks 01-03 in the smoke profile with
# random weights, and each page must show no error, every progress bar finished and every image drawn
# (screenshots in artifacts/browser/). Then 03 runs in the full profile on the smoke run's artifacts: its
# error must name both profiles. BROWSER_FLAGS: the script's options (--notebooks 01 03, --no-mismatch).
# `make browser-smoke`: the harness alone, on small generated notebooks (a bar, an image, an error, a
# cell that overruns), in well under a minute. Both need Chromium and chromedriver in /usr/bin
# (BROWSER_CHROMIUM, BROWSER_CHROMEDRIVER: elsewhere); without them they stop with status 2.
# BEGIN INSTRUCTOR ONLY
# Instructors: browser-test then runs the student release's 01-03 the same way, instructor/plain's
# functions copied in (python -m instructor.plain_copy into dist/browser-release; screenshots in
# artifacts/browser/release/).
BROWSER_RELEASE = $(PY) -m instructor.plain_copy --out dist/browser-release && \
	$(PY) scripts/browser_check.py --tree dist/browser-release --label release --no-mismatch $(BROWSER_FLAGS)
# END INSTRUCTOR ONLY
browser-test: $(STAMP)
	status=0; $(PY) scripts/browser_check.py $(BROWSER_FLAGS) || status=$$?; \
	$(if $(BROWSER_RELEASE),{ $(BROWSER_RELEASE); } || status=$$?;) exit $$status

browser-smoke: $(STAMP)
	$(PY) scripts/browser_check.py --tiny --out artifacts/browser/tiny

# Pack the current profile's artifacts for a grader: dist/submission-<profile>-<weights>.zip
submission: $(STAMP)
	$(PY) scripts/make_submission.py

# A grader's check of a submission archive: notebook 05 on the archive alone (no data set: the
# empty CIFAR10_DIR and MNIST_DIR also turn off the shared copies; no training, no network); the
# executed copy goes to artifacts/inference/.
inference: $(STAMP)
	@test -n "$(SUBMISSION)" || { echo "usage: make inference SUBMISSION=path/to/submission-....zip" >&2; exit 2; }
	CIFAR10_DIR= MNIST_DIR= SUBMISSION="$(abspath $(SUBMISSION))" \
		$(PY) scripts/run_notebooks.py --out artifacts/inference notebooks/05_quick_inference.ipynb

# BEGIN INSTRUCTOR ONLY
# Instructors: the student version (solution regions stubbed) in dist/release/ (docs/INSTRUCTORS.md).
# LEVEL=derive (default: docstrings state the contract only) or guided (the method hints too): see
# docs/STARTER.md. STUDENT_REPO=<address>: the repository the release's Colab cells clone and install (a
# per-student or template one); unset, they install the student's copy in Google Drive.
LEVEL ?= derive
release: $(STAMP)
	$(PY) -m instructor.release --out dist/release --level $(LEVEL) $(if $(STUDENT_REPO),--student-repo "$(STUDENT_REPO)")

# END INSTRUCTOR ONLY

# The autograder on a copy (STUDENT=path; default: this tree): the graded tests of tests/, and the
# hidden ones where instructor/hidden_tests exists. GRADE_FLAGS: scripts/grade.py's options (--only,
# --time-limit). SUBMISSION=archive.zip grades the source packed in a submission archive instead.
grade: $(STAMP)
	$(PY) scripts/grade.py $(if $(SUBMISSION),--submission "$(SUBMISSION)",$(if $(STUDENT),"$(STUDENT)",.)) $(GRADE_FLAGS)

# BEGIN INSTRUCTOR ONLY
# A class at once: every *.zip in SUBMISSIONS, WORKERS at a time (default: the CPU count), into
# SUBMISSIONS/grades/ (gradebook.csv, feedback/, report.html, canvas.csv, grades_by_id.csv);
# REGRADE=1 grades again what was graded already; ROSTER=file.csv maps archives to student ids
# (default SUBMISSIONS/roster.csv when there is one).
grade-all: $(STAMP)
	@test -n "$(SUBMISSIONS)" || { echo "usage: make grade-all SUBMISSIONS=folder/ [WORKERS=n] [REGRADE=1] [ROSTER=file.csv]" >&2; exit 2; }
	$(PY) scripts/grade_all.py "$(SUBMISSIONS)" $(if $(WORKERS),--workers $(WORKERS)) $(if $(REGRADE),--regrade) $(if $(ROSTER),--roster "$(ROSTER)") $(GRADE_FLAGS)

# The Gradescope autograder: dist/autograder.zip (docs/GRADING.md, "Gradescope").
autograder: $(STAMP)
	$(PY) scripts/make_autograder.py

# WCAG 2.1 AA check (docs/ACCESSIBILITY.md): axe-core from npm (pinned in package-lock.json) in headless
# Chromium over the executed notebooks' HTML (artifacts/<profile>/notebooks, from `make run`), a class
# report page and docs/*.md. Needs chromium and chromedriver; NOTEBOOKS=folder checks other exports.
node_modules/axe-core/axe.min.js: package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund
	touch $@

accessibility: $(STAMP) node_modules/axe-core/axe.min.js
	$(PY) scripts/check_accessibility.py $(if $(NOTEBOOKS),--notebooks "$(NOTEBOOKS)")

# END INSTRUCTOR ONLY

# Every benchmark, each writing its record to artifacts/benchmarks/; then docs/BENCHMARKS.md from the records.
benchmarks: $(STAMP)
	for script in benchmarks/bench_*.py; do echo "== $$script"; $(PY) $$script || exit 1; done
	$(PY) scripts/benchmark_report.py

# docs/RESULTS.md from the main job's artifacts/<profile>/run_summary.json (written by `make run`).
report: $(STAMP)
	$(PY) scripts/benchmark_report.py --run-summary

clean:
	rm -rf artifacts/smoke artifacts/full
