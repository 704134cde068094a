"""The one error rendering raises: the job cannot be printed as given."""

from __future__ import annotations


class RenderError(ValueError):
    """A job or document the renderer refuses (malformed block, undecodable image, ...).

    The runner reports the job as ``failed``; nothing is sent to the printer.
    """
