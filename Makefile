# handreid: make reproduce | make test | make lab | make weights
PYTHON   ?= python3
VENV     ?= .venv
PY       := $(VENV)/bin/python
PROFILE  ?= demo
DATA_ROOT ?=
DEVICE   ?= auto
NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb))

.PHONY: setup reproduce verify test lab weights gpu-check clean-cache

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install -e '.[dev]'
	touch $@

## setup: create .venv with handreid and its pinned dependencies (once)
setup: $(VENV)/.installed

## reproduce: train what the tables and figures need (PROFILE=demo: synthetic data, CPU), then render them
##   TABLES=gpa-table1,gpa-fig2 (or 'gpa-*'; default all)  DATASETS=11k-dr  METHODS=gpanet,resnet50
##   SEEDS=3 (training seeds; default each table's: 3 for the demo's headline comparisons, else 1)  JOBS=4 (runs at once; demo default 2: one per core)  EXECUTOR=slurm
##   DRY_RUN=1 (list what would run and why, with GPU-hours for PROFILE=paper)
##   RETRAIN=1 (train the selected runs anew even when their records exist; old records go to results/runs-previous/)
##   VARIANT=paper|authors (the papers' text or the authors' public code where they differ)
TABLES   ?= all
SEEDS    ?=
JOBS     ?= $(if $(filter demo,$(PROFILE)),2,1)
EXECUTOR ?= local
reproduce: setup
	$(PY) -m handreid reproduce --profile $(PROFILE) --device $(DEVICE) --tables '$(TABLES)' $(if $(SEEDS),--seeds $(SEEDS)) \
	    --jobs $(JOBS) --executor $(EXECUTOR) $(if $(DATA_ROOT),--data-root "$(DATA_ROOT)") \
	    $(if $(DATASETS),--datasets $(DATASETS)) $(if $(METHODS),--methods $(METHODS)) $(if $(DRY_RUN),--dry-run) $(if $(RETRAIN),--retrain) \
	    $(if $(VARIANT),--variant $(VARIANT))

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

## weights: download and verify the ImageNet weights the selected tables need (TABLES=...; default all)
##   into torch's hub cache, or DEST=DIR to carry them to an offline machine
weights: setup
	$(PY) -m handreid weights --tables '$(TABLES)' $(if $(DEST),--dest "$(DEST)") \
	    $(if $(DATASETS),--datasets $(DATASETS)) $(if $(METHODS),--methods $(METHODS))

## lab: JupyterLab on the notebooks; open the URL with ?token=... it prints (as root: --allow-root)
##   LAB_ARGS='--ip=0.0.0.0 --port=8899' to reach it from outside a container
lab: setup
	@echo "[handreid] JupyterLab starting: open the http://127.0.0.1:<port>/lab?token=... URL it prints below (Ctrl-C stops it)"
	$(VENV)/bin/jupyter lab notebooks $(if $(filter 0,$(shell id -u)),--allow-root) \
	    $(if $(or $(DISPLAY),$(WAYLAND_DISPLAY),$(filter Darwin,$(shell uname -s))),,--ServerApp.open_browser=False) $(LAB_ARGS)

## gpu-check: every CUDA path and GPU benchmark in one command (BENCHMARKS.md, "GPU check"); needs no venv:
##   any python with torch runs the tree (PYTHONPATH=.). GPU_CHECK_OUT=results/gpu-check  GPU_CHECK_ARGS=
##   e.g. make gpu-check DEVICE=cpu GPU_CHECK_ARGS='--scale tiny' GPU_CHECK_OUT=/tmp/gpu-check
GPU_CHECK_OUT  ?= results/gpu-check
GPU_CHECK_ARGS ?=
gpu-check:
	PYTHONPATH=.$${PYTHONPATH:+:$$PYTHONPATH} $(if $(wildcard $(PY)),$(PY),$(PYTHON)) -m handreid.gpucheck \
	    --device $(if $(filter auto,$(DEVICE)),cuda,$(DEVICE)) --out $(GPU_CHECK_OUT) $(GPU_CHECK_ARGS)

clean-cache:
	rm -rf .cache
