"""Errors that report a user's mistake rather than a bug."""


class UserError(Exception):
    """Bad input from the user. The message names the value, the reason and the fix.

    The CLI prints the message on one line and exits with status 2, without a
    traceback.
    """


class WidthError(UserError):
    """A model value does not fit a width or a resource limit of the target."""
