"""The test suite. A package, so that the test modules import helpers from ``conftest``
relatively and pytest imports ``restyle`` once, under its own name (its doctests too)."""
