# The README's commands. Each one sets up its own virtual environment when missing.
#   make book   build the HTML book, executing every chapter
#   make test   run every test (unit, chapter execution, book build, browser)
#   make bench  run the benchmarks (JSON into benchmarks/results/)
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.htsgd-installed
OFFLINE := book/_static/offline/.complete
# Locally the book and the tests reuse executed chapters whose code and inputs did not change (cache,
# scripts/build_book.py); CI sets BOOK_EXECUTE=force.
BOOK_EXECUTE ?= cache
export PYTHONHASHSEED := 0

.PHONY: book test bench lint notebooks vendor clean help student book-student

help:
	@echo "make book | make test | make bench | make notebooks | make student | make book-student | make lint | make clean"

$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	@touch $(STAMP)

# Without npm the book falls back to CDN copies of these scripts (scripts/build_book.py says so).
$(OFFLINE): scripts/vendor_js.sh
	@if command -v npm >/dev/null 2>&1; then bash scripts/vendor_js.sh book/_static/offline; fi

vendor: $(OFFLINE)

book: $(STAMP) $(OFFLINE)
	$(PY) scripts/build_book.py --execute $(BOOK_EXECUTE)
	@echo "The book is at $(CURDIR)/_build/html/index.html"

# Chromium and npm for the browser tests: installed when possible, else one line says how.
# Four pytest-xdist workers on two cores, beside the book build, which runs in the background; an idle worker
# takes queued tests from another (--dist worksteal), and tests/conftest.py orders them: the long ones that
# execute chapters first, the tests that read the build last. Four, not two, because the browser tests wait on
# Chromium far more than pytest computes (the 89 of them: 255 s wall and 116 CPU s of pytest with two workers,
# idle machine), and they end the session. The suite keeps both cores busy from start to end, so its wall time
# is its CPU time over two, and Chromium's is the largest part: the 73 browser tests took 305 CPU s of the
# machine with four workers, most of it Chromium loading pages, hence one load per page and screen width where
# tests can share it. The execution count runs after all of them (tests/test_executions.py).
# The build of `make test` runs the experiments chapter's quick grid (BOOK_GRID=book: the published one).
TEST_WORKERS ?= 4
BOOK_GRID ?= quick
test:
	@bash scripts/test_prereqs.sh $(VENV)
	@$(MAKE) --no-print-directory $(STAMP) $(OFFLINE)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" BOOK_EXECUTE=$(BOOK_EXECUTE) BOOK_GRID=$(BOOK_GRID) $(PY) -m pytest -n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

bench: $(STAMP)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

notebooks: $(STAMP)
	$(PY) scripts/sync_notebooks.py

# Instructor kit: _build/instructor/ (nbgrader source format) and _build/student/ notebooks,
# and the HTML book without solutions in _build/student-html/_build/html/ (index.html there).
student: $(STAMP)
	$(PY) scripts/make_student.py

book-student: $(STAMP) $(OFFLINE)
	$(PY) scripts/make_student.py --html --execute $(BOOK_EXECUTE)

lint: $(STAMP)
	$(VENV)/bin/ruff check htsgd tests benchmarks scripts book/_ext

clean:
	rm -rf _build book/_static/offline
