"""Benchmarks: each module's ``run(quick)`` returns figures measured beside a baseline from the same run."""
