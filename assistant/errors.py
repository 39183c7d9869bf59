"""The one user-facing error type.

Library code raises ``AssistantError`` with a message that tells the user what to do;
the CLI (and later the UI) turns it into a one-line message instead of a traceback.
"""


class AssistantError(Exception):
    """An error the user can act on. ``str(err)`` is the whole message."""
