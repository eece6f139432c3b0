# The README's two commands. Each installs what it needs first (scripts/setup.sh), then runs.
.PHONY: setup demo test bench clean

SAMPLE := data/sample-library
DATASET := data/dataset

setup:
	@scripts/setup.sh

demo: setup
	.venv/bin/cropstyle sample-library $(SAMPLE) --count 120 --seed 0
	.venv/bin/cropstyle extract $(SAMPLE) --out $(DATASET)

test: setup
	.venv/bin/python -m pytest

bench: setup
	.venv/bin/python bench/extract.py

clean:
	rm -rf data/sample-library data/dataset
