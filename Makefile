# Lambda runs python3.12: the local venv uses the same minor version.
PYTHON ?= $(shell for p in python3.12 $$HOME/.pyenv/versions/3.12*/bin/python3.12 /usr/bin/python3.12 /usr/local/bin/python3.12; do \
	if $$p -c 'import sys; assert sys.version_info[:2] == (3, 12)' 2>/dev/null; then echo $$p; break; fi; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install demo speak test lint lock bench layers clean sam-validate checkov wheels sam-build

install: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	@test -n "$(PYTHON)" || { echo "python3.12 not found: set PYTHON=/path/to/python3.12" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

# The main job: the whole service on the local stack, from publish to audio files in out/.
demo: $(STAMP)
	$(BIN)/python -m voxflow.local.demo --out out

# The engine alone, no AWS: one text to one file.
speak: $(STAMP)
	$(BIN)/voxflow synth --file benchmarks/corpus/demo.txt -o out/demo.mp3

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# SAM_BUILD_DIR: tests/test_layer_size.py measures and runs what `make sam-build` built.
test: lint sam-validate checkov sam-build
	SAM_BUILD_DIR=build/sam $(BIN)/pytest -n 2 --dist loadfile -q

bench: $(STAMP)
	$(BIN)/python benchmarks/engine.py
	$(BIN)/python benchmarks/pipeline.py

# Regenerates the exact pins from pyproject.toml's ranges (needs the network).
lock:
	rm -rf build/lockenv && $(PYTHON) -m venv build/lockenv
	build/lockenv/bin/pip install -q hatchling==1.27.0 editables -e '.[dev,batch,aws]'
	build/lockenv/bin/pip freeze --exclude-editable | grep -v '^voxflow' > requirements.lock

clean:
	rm -rf $(VENV) build out .mypy_cache .ruff_cache .pytest_cache

layers: $(STAMP)
	for layer in VoxflowLayer EngineLayer VoiceLayer; do \
		rm -rf build/layers/$$layer && \
		$(MAKE) -C layers build-$$layer ARTIFACTS_DIR=$(CURDIR)/build/layers/$$layer || exit 1; \
	done
	du -sh build/layers/*

# `sam validate --lint` (offline: no AWS account or credentials needed). aws-sam-cli
# pins clash with .venv's, so it gets its own venv, from the exact pins of
# infra/ci/requirements-sam.lock (a pip freeze of aws-sam-cli's install).
SAM_VENV := build/samcli
SAM_LOCK := infra/ci/requirements-sam.lock

$(SAM_VENV)/.installed-stamp: $(SAM_LOCK)
	@test -n "$(PYTHON)" || { echo "python3.12 not found: set PYTHON=/path/to/python3.12" >&2; exit 1; }
	rm -rf $(SAM_VENV) && $(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install -q --disable-pip-version-check -r $(SAM_LOCK)
	touch $@

sam-validate: $(SAM_VENV)/.installed-stamp
	AWS_DEFAULT_REGION=us-east-1 SAM_CLI_TELEMETRY=0 \
		$(SAM_VENV)/bin/sam validate --lint --template template.yaml --region us-east-1

# Every file the layers install, downloaded once into build/wheels (needs the network;
# again when the lock or a layer's requirements change): layers/Makefile's `wheels`.
WHEELHOUSE := build/wheels
LAYER_REQUIREMENTS := requirements.lock layers/Makefile $(wildcard layers/*/requirements*.txt)

$(WHEELHOUSE)/.downloaded-stamp: $(LAYER_REQUIREMENTS) $(STAMP)
	rm -rf $(WHEELHOUSE)
	$(MAKE) -C layers wheels WHEELHOUSE=$(CURDIR)/$(WHEELHOUSE)
	touch $@

wheels: $(WHEELHOUSE)/.downloaded-stamp

# `sam build` of template.yaml into build/sam, what `sam deploy` packages: each layer
# through layers/Makefile (BuildMethod: makefile), each function's folder as it is
# (python3.12, no requirements.txt). Offline: pip sees build/wheels and nothing else
# (no index, no pip config), so a build that would need the network fails here. .venv's
# pip and python do the layers' installs and .pyc; .venv/bin on PATH gives SAM its
# python3.12. samconfig.toml's `cached` reuses build/sam-cache for unchanged sources.
sam-build: $(SAM_VENV)/.installed-stamp $(WHEELHOUSE)/.downloaded-stamp
	env -u MAKEFLAGS PIP_CONFIG_FILE=/dev/null PIP_NO_INDEX=1 PIP_FIND_LINKS=$(CURDIR)/$(WHEELHOUSE) \
		PIP=$(CURDIR)/$(BIN)/pip PYTHON=$(CURDIR)/$(BIN)/python PATH=$(CURDIR)/$(BIN):$$PATH \
		AWS_DEFAULT_REGION=us-east-1 SAM_CLI_TELEMETRY=0 \
		$(SAM_VENV)/bin/sam build --template template.yaml --build-dir build/sam \
			--cache-dir build/sam-cache
	du -sh build/sam/*/

# checkov on the template as CloudFormation creates it for each Role (rendered by
# infra/ci/render_templates.py into build/checkov-templates) and on the worker image's
# Dockerfile. Its own venv from the exact pins of infra/ci/requirements-checkov.lock
# (checkov pins clash with .venv's too). --skip-download: no calls to Prisma Cloud;
# skips are only `Metadata: checkov: skip` entries in template.yaml, each with a comment.
CHECKOV_VENV := build/checkov-venv
CHECKOV_LOCK := infra/ci/requirements-checkov.lock

$(CHECKOV_VENV)/.installed-stamp: $(CHECKOV_LOCK)
	@test -n "$(PYTHON)" || { echo "python3.12 not found: set PYTHON=/path/to/python3.12" >&2; exit 1; }
	rm -rf $(CHECKOV_VENV) && $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install -q --disable-pip-version-check -r $(CHECKOV_LOCK)
	touch $@

checkov: $(CHECKOV_VENV)/.installed-stamp $(STAMP)
	rm -rf build/checkov-templates
	$(BIN)/python infra/ci/render_templates.py build/checkov-templates
	$(CHECKOV_VENV)/bin/checkov --quiet --compact --skip-download --framework cloudformation \
		-d build/checkov-templates
	$(CHECKOV_VENV)/bin/checkov --quiet --compact --skip-download --framework dockerfile \
		-f infra/container/Dockerfile
