# Two commands on a fresh machine: `make demo` (the virtual pile) and `make test` (everything CI runs).
# Both create .venv and install what they need first.

VENV  := .venv
PY    := $(VENV)/bin/python
BIN   := $(VENV)/bin
STAMP := $(VENV)/.installed
STUBS := .stubs/.installed
STUBS_PKG := micropython-esp32-stubs==1.29.0.post1

.PHONY: venv broker browser demo sim test lint typecheck mpy bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The MicroPython stubs go in their own folder: they replace the standard library's types.
$(STUBS): $(STAMP)
	rm -rf .stubs
	$(PY) -m pip install --quiet --target .stubs $(STUBS_PKG)
	touch $(STUBS)

# The MQTT tests start mosquitto brokers of their own (Debian's package).
broker:
	@command -v mosquitto >/dev/null || (apt-get update -qq && apt-get install -y -qq mosquitto)

# The QR payment pages' browser tests drive Debian's headless Chromium through its chromedriver.
browser:
	@(command -v chromium && command -v chromedriver) >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium chromium-driver)

demo: venv
	$(BIN)/pilectl demo

sim: venv
	$(BIN)/pilectl sim

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STUBS)
	$(BIN)/mypy --config-file mypy-micropython.ini firmware drivers boards/pinmap.py boards/esp32s3 \
		boards/sim/board.py boards/sim/simhw.py boards/sim/main.py

mpy: venv
	$(BIN)/pilectl build --board sim
	$(BIN)/pilectl build --board esp32s3

test: lint typecheck mpy broker browser
	$(BIN)/pytest

bench: venv
	$(BIN)/pilectl bench meter
	$(BIN)/pilectl bench trip
	$(BIN)/pilectl bench memory
	$(BIN)/pilectl bench powercut
	$(BIN)/pilectl bench wear
	$(BIN)/pilectl bench resume
	$(BIN)/pilectl bench wire
	$(BIN)/pilectl bench ingest

clean:
	rm -rf $(VENV) .stubs build .pytest_cache .ruff_cache .mypy_cache
