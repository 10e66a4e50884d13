"""Benchmarks of jirabot against its own framework (bare Bolt) and the project's emulators.

Run with ``python -m benchmarks.run``; see ``benchmarks/README.md``.
"""
