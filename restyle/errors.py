"""The error type for mistakes a user can make.

Anything raised as :class:`RestyleError` is reported by the CLI (and the web UI) as one line,
without a traceback; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class RestyleError(Exception):
    """A user-facing error: bad input, a missing file, an unwritable output.

    The message is a complete sentence that says what is wrong and, where there is one, the fix.
    """
