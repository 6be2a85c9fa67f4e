# appeal-router: one command per job. `make help` lists them.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
MODELS ?= models
DEMO   ?= data/demo/appeals.csv
HOST   ?= 127.0.0.1
PORT   ?= 8000
SHARED ?= ../shared/data

.PHONY: help install fonts run model test check format bench bench-batch bench-serve bench-feedback bench-steps bench-normalise bench-startup notebooks clean

help:
	@echo "make install    create $(VENV) with everything (library, service, dev tools, CJK font)"
	@echo "make run        train the demo model if none is active, then start the service"
	@echo "make test       run the test suite (TEST_JOBS=2 processes)"
	@echo "make check      ruff (lint + format) and mypy"
	@echo "make bench      print accuracy and speed figures on $(SHARED)"
	@echo "make bench-batch  batch tagging: tickets/s per core and peak RSS on 1,000,000 rows"
	@echo "make bench-serve  HTTP API: req/s, p50/p99, batch tickets/s, hot swaps, the ticket store"
	@echo "make bench-feedback  closed loop: serve, correct wrong answers, retrain; gap recovered"
	@echo "make bench-steps  microseconds per ticket for each step of tagging a chunk"
	@echo "make bench-normalise  normalise() on hostile input (every pattern) and on real tickets"
	@echo "make bench-startup  seconds to ready and restarts of serve --workers 2; CLI start-up"
	@echo "make notebooks  execute the analysts' notebooks on $(SHARED)"

install: fonts $(BIN)/appeals

$(BIN)/appeals: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	@touch $@

# Chinese labels in plots need a CJK font. Installed with apt when we may; otherwise say how.
fonts:
	@if fc-list 2>/dev/null | grep -qiE "wqy|noto sans cjk|source han"; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-microhei >/dev/null; \
	else echo "note: no CJK font found; plots need one (e.g. sudo apt-get install fonts-wqy-microhei)"; fi

model: $(BIN)/appeals
	@$(BIN)/appeals models list --models-dir $(MODELS) --json | grep -q '"active": true' \
		|| $(BIN)/appeals train $(DEMO) --models-dir $(MODELS)

WORKERS ?= 1
# Urgency, several problems, repeats, the demo city's gazetteer and routing table: `make run`
# answers every field of the answer record (an operator's own APPEALS_* values win).
run: export APPEALS_URGENCY ?= true
run: export APPEALS_REPEATS ?= true
run: export APPEALS_PROBLEMS ?= true
run: export APPEALS_GAZETTEER ?= data/demo/gazetteer.csv
run: export APPEALS_GAZETTEER_CITY ?= 江州市
run: export APPEALS_ROUTING_TABLE ?= data/demo/routing.toml
run: install model
	$(BIN)/appeals serve --host $(HOST) --port $(PORT) --workers $(WORKERS) --models-dir $(MODELS)

# The suite on TEST_JOBS processes (CI's machine has 2 cores); each test file runs whole in
# one of them, in file order. TEST_JOBS=0 runs it in this process.
TEST_JOBS ?= 2
test: $(BIN)/appeals
	$(BIN)/pytest --numprocesses $(TEST_JOBS) --dist loadfile

check: $(BIN)/appeals
	$(BIN)/ruff check nlp service tests bench
	$(BIN)/ruff format --check nlp service tests bench
	$(BIN)/nbstripout --verify notebooks/*.ipynb
	$(BIN)/mypy

format: $(BIN)/appeals
	$(BIN)/ruff check --fix nlp service tests bench
	$(BIN)/ruff format nlp service tests bench
	$(BIN)/nbstripout notebooks/*.ipynb

bench: $(BIN)/appeals
	$(BIN)/python bench/accuracy.py --shared $(SHARED)

bench-batch: $(BIN)/appeals
	$(BIN)/python bench/batch.py --shared $(SHARED)

bench-serve: $(BIN)/appeals
	$(BIN)/python bench/serve.py --shared $(SHARED)

bench-feedback: $(BIN)/appeals
	$(BIN)/python bench/feedback.py --shared $(SHARED)

bench-steps: $(BIN)/appeals
	$(BIN)/python bench/steps.py --shared $(SHARED)

bench-normalise: $(BIN)/appeals
	$(BIN)/python bench/normalise.py --shared $(SHARED)
bench-startup: $(BIN)/appeals
	$(BIN)/python bench/startup.py

# Runs the notebooks top to bottom in fresh kernels (nbmake does not write outputs back,
# so the committed files stay output-free); each must finish within NB_TIMEOUT seconds.
# Figures land in reports/notebooks/, the notebooks' registry in reports/models/.
NB_TIMEOUT ?= 600
notebooks: $(BIN)/appeals
	$(BIN)/pytest --nbmake --nbmake-timeout=$(NB_TIMEOUT) notebooks/

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
