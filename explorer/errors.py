"""The one base class for mistakes a user can make (a bad upload, a bad kernel, weights that
are not ours). Pages catch it and show its sentence; anything else is a bug and surfaces."""


class UserError(ValueError):
    """A problem with what the user gave us, described in a sentence a student understands."""
