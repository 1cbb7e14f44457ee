"""Bokeh's validation of every new session's document: checked by the tests, skipped by the server.

``Application.initialize_document`` ends with ``Document.validate`` (``check_integrity`` over every model) when
Bokeh's ``validate_doc`` setting is on, its default: 87 ms of CPU per /cell session (a fifth of a build), spent
again for each student although the document is the same each time, and two ``W-1002 EMPTY_LAYOUT`` log lines
per session (sections drawn on first use start empty, by design). The tests check each page's document once
instead (``tests/app/test_docvalidation.py``: no validation error on any page). ``skip_in_server`` turns the
setting off unless ``BOKEH_VALIDATE_DOC`` is set, so an instructor debugging a page can turn it back on.
Not covered: a page whose models differ between sessions in a way that only some sessions would fail
validation (every page here builds the same models for any URL); validation errors are Bokeh's own checks
(missing renderers, bad references), not this app's correctness.
"""

from __future__ import annotations

import os

from bokeh.settings import settings


def skip_in_server(environ: dict[str, str] | None = None) -> bool:
    """Turn Bokeh's per-document validation off unless ``BOKEH_VALIDATE_DOC`` is set; returns whether it runs."""
    if "BOKEH_VALIDATE_DOC" not in (os.environ if environ is None else environ):
        settings.perform_document_validation.set_value(False)
    return settings.perform_document_validation()
