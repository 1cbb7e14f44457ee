"""Server CPU of a Cell page setting change, with the changes sent Bokeh's own way and with ``patchbatch``.

Builds the Cell page in a Bokeh document inside a real ``ServerSession`` with one connection whose socket
writes each message's frames to nowhere (``Message.send``, as the websocket handler does, so the JSON of
every header, metadata, content and buffer is made), then changes H (and the cell kind) under the document
lock, ``--changes`` times each way, interleaved. Prints the median CPU per change (the page's recompute and
redraw included: the same work both ways) and its ratio to Bokeh's own, the named baseline of the same run,
and how many PATCH-DOC messages and events one change sent.

Usage: ``python benchmarks/patch_cost.py [--changes 44]``
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


class NullSocket:
    """A websocket handler that makes every frame a real one would write, and drops it."""

    def __init__(self):
        import tornado.locks

        self.messages = self.events = 0
        self.write_lock = tornado.locks.Lock()

    async def send_message(self, message):
        self.messages += 1
        self.events += len(message.content.get("events", ()))
        await message.send(self)

    async def write_message(self, data, binary=False, locked=True):
        return None


class Connection:
    def __init__(self):
        from bokeh.protocol import Protocol

        self.protocol, self._socket = Protocol(), NullSocket()

    def send_patch_document(self, event):  # Bokeh's own ServerConnection.send_patch_document
        return self._socket.send_message(self.protocol.create("PATCH-DOC", [event]))


def session_with_cell_page():
    from bokeh.document import Document
    from bokeh.server.session import ServerSession

    from simulator.app.pages.cell.model import CellModel
    from simulator.app.pages.cell.view import CellPage

    page = CellPage(CellModel(kind="lstm", H=4, T=20, D=3), query={})
    doc = Document()
    doc.add_root(page.__panel__().get_root(doc))
    connection = Connection()
    session = ServerSession("benchmark", doc)
    session.subscribe(connection)
    doc.models.flush_synced()  # the browser has the whole page, as after its first pull
    return session, page, connection._socket


def run(changes: int) -> None:
    from bokeh.server.session import ServerSession

    from simulator.app import patchbatch

    own = ServerSession._document_patched
    session, page, sock = session_with_cell_page()
    # an odd cycle of settings, each differing from the one before: over two cycles each way makes every change
    settings = [{"H": h, "kind": kind} for h in (4, 6, 8, 5) for kind in ("lstm", "gru", "rnn")][:11]
    cpu = {"Bokeh's own": [], "patchbatch": []}
    counts = {name: [] for name in cpu}

    async def change(values):
        def apply():
            page.model.param.update(**values)
        await session.with_document_locked(apply)

    for k in range(changes * 2):
        name = "Bokeh's own" if k % 2 == 0 else "patchbatch"
        if name == "patchbatch":
            patchbatch.install({patchbatch.ENV: "1"})
        else:
            ServerSession._document_patched = own
        before = (sock.messages, sock.events)
        start = time.process_time()
        asyncio.run(change(settings[k % len(settings)]))
        if k >= len(settings):  # the first cycle fills caches
            cpu[name].append(1000 * (time.process_time() - start))
            counts[name].append((sock.messages - before[0], sock.events - before[1]))
    ServerSession._document_patched = own
    base = statistics.median(cpu["Bokeh's own"])
    print(f"Cell page setting change (H and kind), {changes} changes each way, interleaved; CPU ms per change")
    for name, values in cpu.items():
        messages = statistics.median(m for m, _ in counts[name])
        events = statistics.median(e for _, e in counts[name])
        print(f"{name:12s} median {statistics.median(values):6.2f}  p90 {statistics.quantiles(values, n=10)[-1]:6.2f}"
              f"  ratio to Bokeh's own {statistics.median(values) / base:5.2f}  messages {messages:.0f}"
              f"  events {events:.0f}")
    print("baseline: Bokeh's own ServerSession._document_patched, same page, same changes, same run")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=44)
    run(parser.parse_args().changes)


if __name__ == "__main__":
    main()
