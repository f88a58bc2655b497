# Entry points for a fresh machine; see README.md.
#   make up    install into .venv and run the whole system locally (stack, operator, worker, simulator, examples)
#   make test  install, build the cached stack if absent, lint the layers, run ALL tests
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: up test install stack-build lint down status

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Kafka jars (Maven), etcd/kube-apiserver/kubectl and helm (Go): minutes the first time, then cached.
stack-build: $(STAMP)
	$(BIN)/sendpipe stack build

up: stack-build
	$(BIN)/sendpipe up

down: $(STAMP)
	$(BIN)/sendpipe down

status: $(STAMP)
	$(BIN)/sendpipe stack status

lint: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/mypy -p sendpipe

# pytest exits 5 when no test ran; make fails on any non-zero exit.
test: stack-build lint
	$(BIN)/python -m pytest
