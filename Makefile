# handreid: make reproduce | make test | make lab
PYTHON   ?= python3
VENV     ?= .venv
PY       := $(VENV)/bin/python
PROFILE  ?= demo
DATA_ROOT ?=
DEVICE   ?= auto
NOTEBOOKS := notebooks/train_eval.ipynb notebooks/report.ipynb

.PHONY: setup reproduce test lab clean-cache

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install -e '.[dev]'
	touch $@

## setup: create .venv with handreid and its pinned dependencies (once)
setup: $(VENV)/.installed

## reproduce: run the sweep for PROFILE (demo: synthetic data, CPU) and regenerate tables + figures
reproduce: setup
	$(PY) -m handreid reproduce --profile $(PROFILE) --device $(DEVICE) $(if $(DATA_ROOT),--data-root "$(DATA_ROOT)")

## test: pytest for the library plus nbval over the notebooks (outputs go to a temporary folder)
test: setup
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	HANDREID_OUTPUT="$$tmp/out" HANDREID_DEMO_DATA="$$tmp/data" HANDREID_CACHE="$$tmp/cache" MPLBACKEND=Agg \
	$(PY) -m pytest -p no:cacheprovider tests --nbval-lax $(NOTEBOOKS)

## lab: JupyterLab on the notebooks
lab: setup
	$(VENV)/bin/jupyter lab notebooks

clean-cache:
	rm -rf .cache
