"""The app's pages, in navigation order: URL slug, title, and the module that builds the page.

Each page module defines ``TITLE``, ``SUMMARY`` (one sentence for the home page) and
``create() -> panel viewable`` (a fresh page per browser session).
"""

from __future__ import annotations

import importlib
from types import ModuleType

PAGES: tuple[tuple[str, str], ...] = (
    ("", "simulator.app.pages.home"),
    ("cell", "simulator.app.pages.cell.view"),
    ("architectures", "simulator.app.pages.architectures.view"),
    ("bptt", "simulator.app.pages.bptt.view"),
    ("crnn", "simulator.app.pages.crnn.view"),
    ("applications", "simulator.app.pages.applications.view"),
    ("course", "simulator.app.pages.course.view"),
)


def available_pages() -> list[tuple[str, ModuleType]]:
    """The pages whose modules exist, as (slug, module) in navigation order."""
    out = []
    for slug, module_name in PAGES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        out.append((slug, module))
    return out


def linked_pages() -> list[tuple[str, ModuleType]]:
    """The pages to link to: ``available_pages``, without the course pages when no course server runs in this
    process (``serve.py --no-course``, or the page built outside a server), so no link leads to a 404.
    """
    from simulator.app.pages.course import context

    return [(slug, m) for slug, m in available_pages() if slug != "course" or context.HANDLE is not None]


def title_of(slug: str) -> str:
    """The title of the page at ``/<slug>``; a sub-page (``course/feedback``) has its section's title."""
    section = slug.split("/")[0]
    for known, module in available_pages():
        if known == section:
            return module.TITLE
    return "Page"
