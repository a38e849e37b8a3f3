# handreid: make reproduce | make test | make lab
PYTHON   ?= python3
VENV     ?= .venv
PY       := $(VENV)/bin/python
PROFILE  ?= demo
DATA_ROOT ?=
DEVICE   ?= auto
NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb))

.PHONY: setup reproduce verify test lab clean-cache

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install -e '.[dev]'
	touch $@

## setup: create .venv with handreid and its pinned dependencies (once)
setup: $(VENV)/.installed

## reproduce: train what the tables and figures need (PROFILE=demo: synthetic data, CPU), then render them
##   TABLES=gpa-table1,gpa-fig2 (or 'gpa-*'; default all)  DATASETS=11k-dr  METHODS=gpanet,resnet50
##   SEEDS=3 (training seeds)  JOBS=4 (runs at once; demo default 2: one per core)  EXECUTOR=slurm
##   DRY_RUN=1 (list what would run and why, with GPU-hours for PROFILE=paper)
##   RETRAIN=1 (train the selected runs anew even when their records exist; old records go to results/runs-previous/)
TABLES   ?= all
SEEDS    ?= 1
JOBS     ?= $(if $(filter demo,$(PROFILE)),2,1)
EXECUTOR ?= local
reproduce: setup
	$(PY) -m handreid reproduce --profile $(PROFILE) --device $(DEVICE) --tables '$(TABLES)' --seeds $(SEEDS) \
	    --jobs $(JOBS) --executor $(EXECUTOR) $(if $(DATA_ROOT),--data-root "$(DATA_ROOT)") \
	    $(if $(DATASETS),--datasets $(DATASETS)) $(if $(METHODS),--methods $(METHODS)) $(if $(DRY_RUN),--dry-run) $(if $(RETRAIN),--retrain)

## verify: retrain committed records on this machine into a scratch folder and compare (identical /
##   within the seed spread / outside, with the reason); VERIFY=all for every record, VERIFY=<n> for the n fastest
VERIFY   ?= 3
verify: setup
	OMP_NUM_THREADS=1 $(PY) -m handreid verify --limit $(VERIFY)

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
