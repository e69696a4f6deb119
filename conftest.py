"""Fixtures shared by every test directory of the repository."""

import os

# The suite runs Marelle in development mode (demo data, plain-HTTP cookies on 127.0.0.1); the
# tests of production mode set it themselves.
os.environ.setdefault("MARELLE_ENV", "development")

pytest_plugins = ["tests.support.infra", "tests.support.databases", "tests.support.stack"]
