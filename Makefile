# Two entry points that work on a fresh machine with only Python 3.10+.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test test-fast test-tflite pi-smoke redteam lint clean model accurate photo bank docs wheel accurate-photo

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.edge-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e ".[edge]"
	touch $@

$(VENV)/.all-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e ".[train,edge,serve,mqtt,dev]"
	touch $@ $(VENV)/.edge-installed

## demo: classify and score 40 real photos, audit the Fashion-MNIST samples, benchmark both models (no TensorFlow)
demo: $(VENV)/.edge-installed
	$(BIN)/edgeclf classify tests/fixtures/photos/images
	$(BIN)/edgeclf bench --compare fast accurate --images tests/fixtures/photos --runs 500 --threads 1,2
	$(BIN)/edgeclf classify examples/ --expect-dirs --model models/fashion_int8.tflite
	$(BIN)/edgeclf bench --model models/fashion_int8.tflite --limit 2000

## test: lint, check the import layers (lint-imports), build the docs strictly, run every test
test: $(VENV)/.all-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	$(MAKE) docs SITE=$$(mktemp -d)/site
	$(BIN)/pytest -q

## docs: the docs site (MkDocs, Material), built strictly: a broken link fails (SITE=dir)
SITE ?= site
docs: $(VENV)/.all-installed
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir $(abspath $(SITE))

## wheel: dist/edgeclf-<version>-py3-none-any.whl with the bundled models, banks and page (DIST=dir)
DIST ?= dist
wheel: $(VENV)/.all-installed
	rm -rf build
	$(BIN)/pip wheel -q --no-deps -w $(DIST) .
	@ls -1 $(DIST)/edgeclf-*-py3-none-any.whl

## test-fast: the inner loop: lint and the tests not marked slow (no training or converting)
test-fast: $(VENV)/.all-installed
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/pytest -q -m "not slow"

## test-tflite: the test suite against tflite-runtime 2.14 (NumPy 1.x, OpenCV 4.x), the fallback
## runtime; tests that train or convert skip (no TensorFlow there). Python <= 3.11 only.
TFLITE_VENV := .venv-tflite
$(TFLITE_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(TFLITE_VENV)
	$(TFLITE_VENV)/bin/python -m pip install -q --upgrade pip
	$(TFLITE_VENV)/bin/pip install -q -e ".[tflite,serve,mqtt,dev]" matplotlib
	touch $@

test-tflite:
	@if $(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 12))'; then \
		echo "test-tflite SKIPPED: tflite-runtime has no wheel for Python 3.12+"; \
	else $(MAKE) $(TFLITE_VENV)/.installed && $(TFLITE_VENV)/bin/pytest -q -p no:cacheprovider; fi

## redteam: the worst hostile inputs (decode bombs, eight parallel uploads, a 1 GB memory limit,
## 1000 slow kept-alive connections, writes out of their folder): no traceback, peak RSS under
## 300 MB, nothing written outside the named folder; about 40 s
redteam: $(VENV)/.all-installed
	$(BIN)/python benchmarks/redteam.py

## pi-smoke: the edge commands on an emulated Raspberry Pi 4 (aarch64, Bookworm), both runtimes
pi-smoke: $(VENV)/.all-installed
	$(BIN)/python .ci/pi_smoke.py

## model: reproduce the bundled model in models/ (needs the full data set: EDGECLF_DATA_DIR)
RUN := runs/bundled
model: $(VENV)/.all-installed
	$(BIN)/edgeclf train --arch small --epochs 80 --seed 0 --overwrite --out $(RUN)
	cp $(RUN)/model.keras models/fashion.keras
	cp $(RUN)/curves.png docs/img/curves.png
	$(BIN)/edgeclf convert models/fashion.keras --int8 -o models/fashion_int8.tflite
	$(BIN)/edgeclf convert models/fashion.keras -o $(RUN)/fashion_float.tflite
	$(BIN)/edgeclf convert models/fashion.keras --fp16 -o $(RUN)/fashion_fp16.tflite
	$(BIN)/edgeclf convert models/fashion.keras --dynamic -o $(RUN)/fashion_dynamic.tflite
	$(BIN)/edgeclf bench --compare $(RUN)/fashion_float.tflite $(RUN)/fashion_fp16.tflite \
		$(RUN)/fashion_dynamic.tflite models/fashion_int8.tflite --json $(RUN)/compare.json
	$(BIN)/edgeclf bench --model models/fashion_int8.tflite --threads 1,2 --json models/bench.json \
		--plot docs/img/bench.png

## accurate: train and convert the 1.17M-parameter, flip-averaged variant (83 min with --bf16 on a 2-core AMX CPU)
ACCURATE := runs/accurate
accurate: $(VENV)/.all-installed
	$(BIN)/edgeclf train --arch accurate --bf16 --epochs 40 --erase-prob 0.5 --seed 0 --overwrite --out $(ACCURATE)
	$(BIN)/edgeclf convert $(ACCURATE)/model.keras --int8 --flip-average -o $(ACCURATE)/fashion_accurate_int8.tflite
	$(BIN)/edgeclf bench --model $(ACCURATE)/fashion_accurate_int8.tflite --threads 1,2 --json $(ACCURATE)/bench.json

## photo: reproduce the bundled colour photo model (needs the clothing photos and Fashion-MNIST)
PHOTOS ?= ../shared/data/clothing-photos
PHOTO_RUN := runs/photo
PHOTO_ARCH ?= photo-medium
PHOTO_SIZE ?= 64
PHOTO_EPOCHS ?= 40
photo: $(VENV)/.all-installed
	$(BIN)/edgeclf train --photos $(PHOTOS) --arch $(PHOTO_ARCH) --size $(PHOTO_SIZE) --epochs $(PHOTO_EPOCHS) \
		--seed 0 --overwrite --out $(PHOTO_RUN)
	cp $(PHOTO_RUN)/model.keras models/photo.keras
	cp $(PHOTO_RUN)/model.card.json models/photo.card.json
	cp $(PHOTO_RUN)/curves.png docs/img/photo_curves.png
	$(BIN)/edgeclf convert models/photo.keras --int8 -o models/photo_int8.tflite
	$(BIN)/edgeclf bench --model models/photo_int8.tflite --images $(PHOTOS) --split val \
		--threads 1,2 --json models/photo_bench.json --plot docs/img/photo_bench.png
	$(MAKE) bank

## accurate-photo: the accurate tier (ImageNet-pretrained EfficientNet-Lite0 at 224 px, its last blocks
## fine-tuned and a label head fitted on the clothing photos, int8), its benchmark and its bank
## (about 15 min on 2 cores; needs Fashion-MNIST)
ACCURATE_PHOTO_RUN := runs/photo-lite0
accurate-photo: $(VENV)/.all-installed
	$(BIN)/python -m edgeclf.train.accurate_photo $(PHOTOS) --out $(ACCURATE_PHOTO_RUN)
	$(BIN)/edgeclf convert $(ACCURATE_PHOTO_RUN)/model.keras --int8 -o models/photo_lite0_int8.tflite
	$(BIN)/edgeclf bench --model models/photo_lite0_int8.tflite --images $(PHOTOS) --split val \
		--threads 1,2 --json models/photo_lite0_bench.json
	$(BIN)/python -m edgeclf.edge.teach.bank $(PHOTOS) --base models/photo_lite0_int8.tflite

## bank: the feature bank beside the photo model that teach --keep-classes needs (50 training photos per class)
bank: $(VENV)/.edge-installed
	$(BIN)/python -m edgeclf.edge.teach.bank $(PHOTOS) --base models/photo_int8.tflite

lint: $(VENV)/.all-installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) build *.egg-info site dist
