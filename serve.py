"""Start the simulator's web app: ``python serve.py [--port 5006] [--address 127.0.0.1]``.

Each browser session gets its own page objects (Panel is handed functions, not objects).
"""

from __future__ import annotations

import argparse
import html
import logging

import panel as pn
from tornado.web import RequestHandler

from simulator.app.layout import framed
from simulator.app.registry import available_pages


def routes() -> dict[str, object]:
    """URL path -> function building that page in its frame."""
    def factory(slug, module):
        return lambda: framed(slug, module.create())

    return {f"/{slug}": factory(slug, module) for slug, module in available_pages()}


class NotFound(RequestHandler):
    """A readable 404 page: what was asked for, and a link to every page that exists."""

    def prepare(self) -> None:
        links = "".join(f'<li><a href="/{slug}">{html.escape(module.TITLE)}</a>: {html.escape(module.SUMMARY)}</li>'
                        for slug, module in available_pages())
        self.set_status(404)
        self.finish(
            "<!doctype html><html><head><title>Page not found - RNN simulator</title></head>"
            '<body style="font-family:sans-serif;max-width:40em;margin:3em auto">'
            f"<h1>No page at {html.escape(self.request.path)}</h1>"
            f"<p>The simulator has these pages:</p><ul>{links}</ul></body></html>"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=5006)
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument("--num-procs", type=int, default=1,
                        help="server processes sharing the port (0 = one per core)")
    parser.add_argument("--allow-websocket-origin", action="append", default=None,
                        help="host[:port] allowed to open the app's websocket (repeatable)")
    parser.add_argument("--show", action="store_true", help="open a browser tab")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    origins = args.allow_websocket_origin or [f"{args.address}:{args.port}", f"localhost:{args.port}"]
    pn.serve(routes(), port=args.port, address=args.address, num_procs=args.num_procs,
             websocket_origin=origins, show=args.show, title="RNN simulator", default_handler_class=NotFound)


if __name__ == "__main__":
    main()
