"""Fixtures shared by every test directory of the repository."""

pytest_plugins = ["tests.support.infra", "tests.support.databases", "tests.support.stack"]
