"""Reproducible benchmarks of loadgate and of the stack it runs on (see BENCHMARKS.md).

Each module is a script: `.venv/bin/python bench/NAME.py --help`, or `python -m bench NAME`.
"""
