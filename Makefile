# Entry points: `make run` executes every notebook top to bottom; `make test` runs the tests.
# Both create the virtual environment and install the pinned dependencies when needed.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# Offline copies of the data sets beside the checkout (this project's machines have no
# internet); elsewhere, with these unset, the loaders download the official archives.
SHARED_DATA := $(abspath ../shared/data)
ifneq ($(wildcard $(SHARED_DATA)/cifar10-jpeg.tar.gz),)
export CIFAR10_DIR ?= $(SHARED_DATA)/cifar10-jpeg.tar.gz
endif
ifneq ($(wildcard $(SHARED_DATA)/mnist.npz),)
export MNIST_DIR ?= $(SHARED_DATA)/mnist.npz
endif

.PHONY: setup run test benchmarks submission inference release grade clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

setup: $(STAMP)

# The main job: BUNDLE_PROFILE=full by default, ImageNet weights unless FEATURE_WEIGHTS says otherwise.
run: $(STAMP)
	$(PY) scripts/run_notebooks.py

# Unit tests, then nbval over the notebooks, in the smoke profile. The tests check code, not
# weights, so they use random ResNet18 weights unless FEATURE_WEIGHTS is set.
test: export BUNDLE_PROFILE := smoke
test: export FEATURE_WEIGHTS ?= random
test: $(STAMP)
	$(PY) -m pytest tests notebooks --nbval-lax --nbval-cell-timeout=900 -q

# Pack the current profile's artifacts for a grader: dist/submission-<profile>-<weights>.zip
submission: $(STAMP)
	$(PY) scripts/make_submission.py

# A grader's check of a submission archive: notebook 05 on the archive alone (no data set, no
# training, no network); the executed copy goes to artifacts/inference/.
inference: $(STAMP)
	@test -n "$(SUBMISSION)" || { echo "usage: make inference SUBMISSION=path/to/submission-....zip" >&2; exit 2; }
	env -u CIFAR10_DIR -u MNIST_DIR SUBMISSION="$(abspath $(SUBMISSION))" \
		$(PY) scripts/run_notebooks.py --out artifacts/inference notebooks/05_quick_inference.ipynb

# Instructors: the student version (solution regions stubbed) in dist/release/, and the
# autograder on a student's copy (STUDENT=path; default: this tree) with the hidden tests.
release: $(STAMP)
	$(PY) -m instructor.release --out dist/release

grade: $(STAMP)
	$(PY) scripts/grade.py $(if $(STUDENT),"$(STUDENT)",.)

benchmarks: $(STAMP)
	for script in benchmarks/bench_*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

clean:
	rm -rf artifacts/smoke artifacts/full
