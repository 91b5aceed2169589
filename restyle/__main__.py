"""``python -m restyle``: the same as the ``restyle`` command."""

from restyle.cli import entry

entry()
