"""The pipeline's one error type for input a user can fix, and how to quote an exception.

Scripts raise :class:`PipelineError` for bad input (a corrupt archive, a checksum
mismatch, a missing class folder, an invalid config); :func:`tlpipe.runner.run_cli`
prints it as one line and exits 1.
"""

from __future__ import annotations


class PipelineError(Exception):
    """A problem with the user's input that the user can fix.

    The message must name the offending file or setting and say how to fix it; the CLI
    wrapper prints it as a single line without a traceback and exits with status 1.
    """


def first_line(err: BaseException) -> str:
    """The first line of an exception message (torch's can run to a page)."""
    return (str(err).strip().splitlines() or [""])[0][:300]
