"""The one user-facing error type.

Library code raises ``AssistantError`` with a message that tells the user what to do;
the CLI (and later the UI) turns it into a one-line message instead of a traceback.
"""


class AssistantError(Exception):
    """An error the user can act on. ``str(err)`` is the whole message."""


class Unreadable(AssistantError):
    """Why a file cannot be ingested: ``kind`` names the failed check (type, empty, size, binary,
    encoding, no_text) and ``detail`` its figures, so each front end can say it in its own words."""

    def __init__(self, kind: str, message: str, **detail):
        super().__init__(message)
        self.kind = kind
        self.detail = detail
