# The two commands: `make run` and `make test`.  Both install what they need.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

LLM_STAMP := $(VENV)/.installed-llm

.PHONY: run test test-llm lint format bench install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/agentroom

test: $(STAMP)
	$(BIN)/python -m pytest

# A real OpenAI-compatible server for the integration tests: llama-cpp-python's, which
# compiles from source on first install (about 5 minutes; pip caches the wheel after).
$(LLM_STAMP): $(STAMP)
	CMAKE_ARGS="-DGGML_NATIVE=OFF" $(BIN)/python -m pip install --quiet -e ".[dev,llm-test]"
	touch $(LLM_STAMP)

test-llm: $(LLM_STAMP)
	$(BIN)/python -m pytest -m llm tests/llm

lint: $(STAMP)
	$(BIN)/ruff check agentroom tests bench
	$(BIN)/ruff format --check agentroom tests bench

format: $(STAMP)
	$(BIN)/ruff format agentroom tests bench
	$(BIN)/ruff check --fix agentroom tests bench

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
