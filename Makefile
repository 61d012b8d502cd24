# Well-being briefings: one command per job. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV        ?= .venv
PY          := $(VENV)/bin/python
DEMO_DATA   := data/synthetic/extract.csv
DATA        ?= $(DEMO_DATA)
PARAMS_DIR  ?= params
REPORTS_DIR ?= reports
REVIEW_DIR  ?= review
JOBS        ?= $(shell nproc 2>/dev/null || echo 2)
RENDERER    ?= auto
MAPPING     ?=
ONLY        ?=
FORMATS     ?= html,pdf,docx
# Paths reach the commands through the environment, quoted ("$$DATA"), so
# folders with spaces (or any other character) work.
export DATA MAPPING PARAMS_DIR REPORTS_DIR REVIEW_DIR JOBS RENDERER FORMATS ONLY VENV

SYNTH_INPUTS := analysis/data/synthetic.py analysis/data/synthetic_comments.py analysis/data/codebook.py \
  data/reference/synthetic.yaml data/reference/synthetic_comments.yaml data/reference/codebook.yaml
MAPPING_ARG  := $(if $(MAPPING),--mapping "$$MAPPING",)

.PHONY: help setup test lint data validate params review reports lab bench bless clean clean-reports

help: ## List the targets and the variables they take
	@echo "Well-being briefings for local authorities"
	@echo
	@echo "Usage: make <target> [VARIABLE=value ...]"
	@echo
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## /\1\t/' | \
	  awk -F'\t' '{printf "  %-14s %s\n", $$1, $$2}'
	@echo
	@echo "Variables (defaults in brackets):"
	@echo "  DATA          survey extract to read [$(DEMO_DATA), the synthetic demonstration extract]"
	@echo "  MAPPING       column-mapping file for an export with other headers [none]"
	@echo "  PARAMS_DIR    folder of per-authority parameter files [params]"
	@echo "  REPORTS_DIR   where outputs go [reports]"
	@echo "  REVIEW_DIR    confidential comment-review folder, never in git [review]"
	@echo "  JOBS          authorities built at once, a positive whole number [number of cores: $(JOBS)];"
	@echo "                capped by the cores and the free memory (about 0.8 GB per worker)"
	@echo "  FORMATS       briefing formats, comma-separated from html,pdf,docx [all three]"
	@echo "  RENDERER      quarto | pandoc | auto [auto: Quarto when installed, else pandoc + Typst]"
	@echo "  ONLY          build only these authorities, comma-separated slugs [every authority]"
	@echo "  BUILD_DIR     the build's private working files, never published [.cache/build/<key of REPORTS_DIR>]"
	@echo
	@echo "One build per REPORTS_DIR at a time: a second one waits (REPORTS_DIR/.wellbeing-reports"
	@echo "is its lock and marker). clean-reports empties only the default folder or one holding"
	@echo "that marker, never an empty path, /, your home or the project."
	@echo
	@echo "The targets that run project code call one command line, python -m analysis <command>"
	@echo "(data, validate, params, review, reports, bench); \`$(PY) -m analysis --help\` lists them."
	@echo "How the code is laid out: docs/architecture.md."

setup: $(VENV)/.installed ## Create the virtual environment and install everything (run once)

$(VENV)/.installed: pyproject.toml
	@command -v python3 >/dev/null || { echo "setup: python3 is needed (3.10 or newer)"; exit 1; }
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools wheel
	$(PY) -m pip install --quiet -e .
	@bash scripts/ensure-quarto.sh $(VENV)
	@touch $@

test: setup ## Run every test: lint, unit tests and the nbval regression suite
	$(VENV)/bin/ruff check analysis tests benchmarks
	$(PY) -m pytest tests
	$(PY) -m pytest --nbval tests/golden --nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider

lint: setup ## Check the code style with ruff
	$(VENV)/bin/ruff check analysis tests benchmarks

data: setup ## Write the synthetic demonstration extract (same bytes every run)
	$(PY) -m analysis data --out $(DEMO_DATA)

$(DEMO_DATA): $(SYNTH_INPUTS) | $(VENV)/.installed
	$(PY) -m analysis data --out $@

validate: setup ## Validate an extract and nothing else: make validate DATA=path [MAPPING=file]
	@$(PY) -m analysis validate "$$DATA" $(MAPPING_ARG)

params: setup $(if $(filter $(DEMO_DATA),$(DATA)),$(DEMO_DATA)) ## Write a parameter file for every authority that lacks one
	@$(PY) -m analysis params --data "$$DATA" $(MAPPING_ARG) --params-dir "$$PARAMS_DIR"

review: setup $(if $(filter $(DEMO_DATA),$(DATA)),$(DEMO_DATA)) ## Write the confidential comment-review files in REVIEW_DIR (keeps approvals and edits)
	@$(PY) -m analysis review --data "$$DATA" $(MAPPING_ARG) --params-dir "$$PARAMS_DIR" \
	  --review-dir "$$REVIEW_DIR"

reports: setup $(if $(filter $(DEMO_DATA),$(DATA)),$(DEMO_DATA)) ## Build every authority's briefing, the national briefing and the index
	@$(PY) -m analysis reports --data "$$DATA" $(MAPPING_ARG) --params-dir "$$PARAMS_DIR" \
	  --reports-dir "$$REPORTS_DIR" --jobs "$$JOBS" --formats "$$FORMATS" --renderer "$$RENDERER" \
	  --review-dir "$$REVIEW_DIR" --only "$$ONLY"

lab: setup $(DEMO_DATA) ## Open JupyterLab on the project, notebooks ready to run
	$(VENV)/bin/jupyter lab --notebook-dir=. notebooks/

bench: setup $(DEMO_DATA) ## Run the performance benchmark and print its figures
	$(PY) -m analysis bench

bless: setup ## Re-execute the golden nbval notebooks after an intended change
	$(PY) tests/bless_golden.py all

clean-reports: ## Empty REPORTS_DIR (only the default or a folder the build wrote; keeps parameter files)
	@bash scripts/clean-reports.sh "$$REPORTS_DIR" reports
	@$(PY) -m analysis forget-build "$$REPORTS_DIR"

clean: clean-reports ## Delete generated data, reports and the virtual environment
	@case "$$VENV" in ""|/|.|..|"$$HOME") echo "clean: refusing VENV='$$VENV'" >&2; exit 1;; esac
	rm -rf -- "$$VENV" data/synthetic .cache .pytest_cache .ruff_cache
