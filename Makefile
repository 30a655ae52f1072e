# Porchlight: `make run` starts the app, `make test` runs the whole test suite.
# Both bootstrap everything on a fresh Debian 12 / Ubuntu machine (system packages when run as
# root, else the exact apt line to run), then a virtualenv in .venv.

PYTHON ?= python3
# Most tests wait on real-time streams: a few workers overlap those waits (2 cores suffice).
PYTEST_ARGS ?= -n 3
VENV   := .venv
PY     := $(VENV)/bin/python

# Qt (PySide6 wheels) needs these; xcb ones only with a real display.
APT_RUN  := python3-venv libgl1 libegl1 libxkbcommon0 libglib2.0-0 libfontconfig1 libdbus-1-3 \
            libpulse0 libxrandr2 libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-image0 \
            libxcb-keysyms1 libxcb-render-util0 libxcb-shape0 libxcb-xkb1
# Test peers: ffmpeg pushes streams, gst-rtsp-server (Debian's python3-gi) serves them on 127.0.0.1,
# PostgreSQL for the shared-index tests, Xvfb for screenshots, iproute2/util-linux for namespaces,
# systemd for `systemd-analyze verify` of the user service's unit (nothing of it is started), and
# age and openssl, the standard tools that must open the agency's keys and identities.
APT_TEST := ffmpeg python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base \
            gstreamer1.0-plugins-good gstreamer1.0-plugins-bad iproute2 util-linux postgresql xvfb xauth \
            systemd age openssl
# The benchmark compares against the Debian `motion` daemon.
APT_BENCH := motion

.PHONY: setup run test test-fast lint bench screenshots clean

$(VENV)/.stamp-run: pyproject.toml
	./scripts/ensure-apt.sh $(APT_RUN)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.stamp-test: $(VENV)/.stamp-run
	./scripts/ensure-apt.sh $(APT_TEST)
	$(PY) -m pip install -q -e '.[test,postgres]'
	touch $@

setup: $(VENV)/.stamp-run

run: $(VENV)/.stamp-run
	$(VENV)/bin/porchlight

lint: $(VENV)/.stamp-test
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy  # strict; files and the legacy list in pyproject.toml
	$(VENV)/bin/ruff check hub drivers ui cli tests bench scripts
	$(VENV)/bin/ruff format --check hub drivers ui cli tests bench scripts

test: $(VENV)/.stamp-test lint
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest $(PYTEST_ARGS)
	$(PY) -m tests.support.netns --provision
	QT_QPA_PLATFORM=offscreen ./scripts/netns-run.sh $(PY) -m pytest tests/netns -p no:xdist  # serial: fixed ONVIF ports

test-fast: $(VENV)/.stamp-test
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

bench: $(VENV)/.stamp-test
	./scripts/ensure-apt.sh $(APT_BENCH)
	$(PY) bench/run_bench.py $(BENCH_ARGS)

screenshots: $(VENV)/.stamp-test
	$(PY) scripts/screenshots.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
