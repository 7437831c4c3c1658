# swift-stn: two commands for a new machine.
#   make demo   installs what is missing, builds in release mode, runs the demo
#   make test   installs what is missing, builds and runs the whole test suite
SHELL := /bin/bash
SWIFT ?= swift
APT_PACKAGES := libjpeg-dev libpng-dev zlib1g-dev libopenblas-dev
STN := .build/release/stn
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test deps test-deps build release bench clean

# Installs the Debian packages the build links against, only those that are missing.
deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y --no-install-recommends $$missing; \
	fi

release: deps
	$(SWIFT) build -c release --product stn

build: deps
	$(SWIFT) build

# The TensorBoard test reads our event files back with tensorboard's own reader (Python).
test-deps:
	@python3 -c 'import tensorboard' >/dev/null 2>&1 || { echo "installing tensorboard (for the event-file read-back test)"; \
	  python3 -m pip install --quiet --disable-pip-version-check tensorboard; }

# All tests are XCTest; --disable-swift-testing keeps swift-testing's empty "0 tests" run from
# being the last line of the output.
test: deps test-deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --disable-swift-testing

# The main job on a built-in default: Fashion-MNIST (installed from Debian when missing), a short
# ST-CNN training run, its evaluation, a sheet of what the trained transformer does, and the
# augmentation pipeline run over samples/ with a contact sheet. Outputs go to runs/demo/.
demo: release
	$(STN) info samples/images
	STN=$(STN) scripts/demo.sh

clean:
	rm -rf .build
