# Two commands for a fresh machine:  make demo   and   make test
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH := torch==2.13.0
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test install browser clean

$(BIN)/restyle: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# The CPU build of torch first, so that the "torch>=2.1" requirement does not pull a CUDA build.
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e '.[dev,video,web,heif,raw]'
	touch $@

install: $(BIN)/restyle

demo: install
	mkdir -p demo-output
	$(BIN)/restyle art sample:astronaut sample:ihc -o demo-output/astronaut-ihc.png

# The web UI's end-to-end test drives Debian's Chromium (no browser download at test time).
browser:
	@command -v chromium >/dev/null 2>&1 || $(SUDO) apt-get install -y -q chromium \
		|| { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q chromium; }

test: install browser
	$(BIN)/ruff check restyle tests benchmarks
	$(BIN)/python -m pytest restyle tests

clean:
	rm -rf $(VENV) demo-output
