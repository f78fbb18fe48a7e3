"""Benchmarks: run by hand (`.venv/bin/python bench/api_list.py`), never by the test suite or CI."""
