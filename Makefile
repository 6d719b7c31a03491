# Paver: every target installs what it needs into .venv first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# checkov pins boto3 against ours: it gets its own venv (requirements-tools.txt).
TOOLS := .venv-tools
TOOLS_STAMP := $(TOOLS)/.installed
export OMP_NUM_THREADS ?= 1
export AWS_ACCOUNT_ID_ENDPOINT_MODE ?= disabled

.PHONY: install sysdeps demo test lint serve bench package clean iam layer training-image

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python requirements.txt requirements-dev.txt pyproject.toml
	$(BIN)/python -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

$(TOOLS_STAMP): requirements-tools.txt
	$(PY) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --upgrade pip
	$(TOOLS)/bin/python -m pip install --quiet -r requirements-tools.txt
	touch $(TOOLS_STAMP)

install: $(STAMP) $(TOOLS_STAMP)

# System packages the tests need: zbar (one of the wallet-like QR readers) and Debian's chromium
# (browser tests; Playwright cannot download its own browsers here). Installed only when missing.
SYSDEPS := libzbar0 chromium
sysdeps:
	@missing=""; for p in $(SYSDEPS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

demo: install
	$(BIN)/paver demo

lint: install
	$(BIN)/ruff check .

test: install sysdeps
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n 2 --dist loadfile -q

serve: install
	$(BIN)/paver serve --demo

bench: install
	$(BIN)/python -m bench

package: install
	$(BIN)/paver package --out build

# Regenerate the per-function IAM policies (.chalice/policies/) from infra/iam.py.
iam: install
	$(BIN)/python -m infra.iam

# Build the serving Lambda layer (build/layer.zip: requirements.txt without scipy and
# scikit-learn) for Lambda's Linux; downloads ~100 MB of wheels, so it is never part of
# `make test`. The training routes run in an image (infra/training.py): `make training-image`.
layer: install
	$(BIN)/python -m infra.layer --out build --serving

# The training routes' container image (infra/training/Dockerfile; needs docker): the deployment
# zip unzipped on AWS's Python base image with every pinned requirement. Push it to ECR and pass
# its URI as the stack's TrainingImageUri parameter.
training-image: install
	$(BIN)/paver package --out build
	rm -rf build/training && mkdir -p build/training && cd build/training && unzip -q ../sam/deployment.zip
	docker build -f infra/training/Dockerfile -t paver-training .

clean:
	rm -rf build out .pytest_cache
