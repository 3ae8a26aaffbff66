"""Helpers shared by more than one test module; the fixtures among them are registered in ``tests/conftest.py``."""
