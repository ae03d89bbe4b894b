# `make run` executes the notebook series into build/ and builds the course's site there (build/index.html);
# `make site` rebuilds the site from build/ without executing; `make test` runs the unit tests and every notebook under nbval.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9]*.ipynb))

.PHONY: install run site test test-fast lab bench prefetch clean

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

run: install
	mkdir -p build
	$(BIN)/python docs/site/record.py build/run.json
	for nb in $(NOTEBOOKS); do \
	  $(BIN)/jupyter nbconvert --to notebook --execute --output-dir build $$nb || exit 1; \
	done
	$(BIN)/sphinx-build -q -b html docs/site build

# The site again from the notebooks build/ holds (docs/site/conf.py), executing nothing: after editing docs/ or docs/site/.
site: install
	$(BIN)/sphinx-build -q -b html docs/site build

# On two workers (pytest-xdist), one torch thread each; tests/conftest.py says what shares a worker (docs/testing.md).
test: install
	TC_PROFILE=tiny OMP_NUM_THREADS=1 $(BIN)/python -m pytest -n 2 --no-loadscope-reorder --durations=20 --nbval-lax --nbval-current-env -p no:cacheprovider tests notebooks

# While changing the code: the tests that neither start a process, nor train a model, nor run a notebook.
test-fast: install
	TC_PROFILE=tiny $(BIN)/python -m pytest -m "not slow" -p no:cacheprovider tests

lab: install
	$(BIN)/jupyter lab notebooks/

clean:
	rm -rf build results cache docs/site/notebooks docs/site/docs

# Speed: the tutorial's pipeline against this project's. Point it at real data and a real model, e.g.
# TC_DATA=../shared/data/sarcasm_headlines.csv TC_TEXT_COLUMN=text TC_LABEL_COLUMN=type TC_MODEL=DIR make bench
bench: install
	$(BIN)/python -m helpers bench $(BENCH_ARGS)

# An offline classroom: the data, the model and (with PREFETCH_ARGS="--wheels DIR") the wheels, while online, e.g.
# PREFETCH_ARGS="--profile quick --also-model klue/bert-base --wheels usb/wheels" make prefetch
prefetch: install
	$(BIN)/python -m helpers prefetch $(PREFETCH_ARGS)
