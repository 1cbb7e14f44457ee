"""Classroom load: N simulated students on /cell over the real Bokeh websocket protocol, beside a trivial page.

A class arrives as a class does: ``(1 - late) * N`` students join first (8 at a time), then the measurement
window starts and the other ``late * N`` students arrive during it, at uniformly random times (the default
``--late 0.1``: 20 of 200 students within the 30 s window, one every 1.5 s), so the window holds joins as well
as work. Each student GETs the page, opens the websocket (Nagle's algorithm off on it, as Chromium and Firefox
have it on theirs; ``--client-nagle`` keeps it on, as this script did before stop 22, which added a TCP delayed
acknowledgement of up to about 40-90 ms to a message on an idle server), pulls the document (join latency: from
the GET to the document, what a student waits for before the page can be drawn), then every 1-2 s sends what
the browser now sends for a burst of steps (the throttled step report, ``ClientPlayer``, with the URL the
browser wrote for the step); one action in ten is a setting change (the H field). As Panel's location view in
a browser does, a student answers each URL the server writes with the page's new ``href`` (one more message).
Step latency: to the server's ``OK`` for the report (its callback has run: the same queue any click waits in);
setting latency: to the server's patch carrying the new readout. The same students, doing the same, run against
a trivial Panel page (one text field) served the same way (same handlers, join gate and GC policy, same process
count) in the same run: that is the named baseline.

Prints, per N and page: p50/p95/p99 step and setting latency (ms), join p50/p95 of the late arrivals and of
the first wave, server CPU ms per request, MB per session, session builds per student (1.0: each session
built once), the longest GC pause the server logged, the load average when the row started, the share of one
core the simulated students themselves used (near 100 %: the client, not the server, is what is measured),
and the ratio to the trivial page.
Usage: ``python benchmarks/classroom_load.py [--students 25 50 100 200] [--seconds 30] [--procs 2]
[--late 0.1] [--variant LABEL:NAME=VALUE ...]`` (``--variant``: one more /cell row with its server's environment
changed, e.g. ``nocache:RNN_BOKEH_DEFAULTS=0``, an A/B in the same run).
It saturates both cores at N = 200: run it alone.

Not measured: page drawing in a browser (the steps themselves cost the server nothing until the report; see
tests/browser/test_cell_client.py) and training load (tests/browser/test_load.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

from tornado.websocket import websocket_connect

ROOT = Path(__file__).resolve().parents[1]
TRIVIAL_APP = """
import logging, sys, panel as pn
from simulator.app.gcpolicy import freeze_startup, install as install_gc_policy
from simulator.app.joining import install_join_gate
from simulator.app.pagehtml import install_page_handler
logging.basicConfig(level=logging.INFO)
install_page_handler(); install_join_gate(); install_gc_policy(); freeze_startup()  # served as serve.py serves
pn.serve({"/trivial": lambda: pn.Column(pn.widgets.TextInput(name="H (hidden)", value="4"), pn.pane.Markdown("hi"))},
         port=int(sys.argv[1]), address="127.0.0.1", show=False, websocket_origin=[f"127.0.0.1:{sys.argv[1]}"],
         num_procs=int(sys.argv[2]))
"""
CLIENT_NAGLE = False  # --client-nagle: the students' sockets keep Nagle's algorithm on (this script before stop 22)
BUILT = re.compile(r"session built by process")
GC_PAUSE = re.compile(r"gc pause (\d+) ms")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError):
            pass
    return total


def _rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            pass
    return total / 1e6


def _tree(pid: int) -> list[int]:
    out = [pid]
    for child in Path("/proc").glob("[0-9]*"):
        try:
            if int(child.joinpath("stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(child.name))
        except (OSError, ValueError, IndexError):
            pass
    return out


def _start(cmd: list[str], url: str, log, env: dict[str, str] | None = None) -> subprocess.Popen:
    # NB: its own process group, so that _stop ends the forked server processes too, not only their parent
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                            env={**os.environ, **(env or {})})
    for _ in range(240):
        try:
            urllib.request.urlopen(url, timeout=5).read()
            return proc
        except OSError:
            time.sleep(0.5)
    _stop(proc)
    raise RuntimeError(f"{cmd} did not start")


def _stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=30)


class Student:
    """One browser session, speaking the Bokeh protocol (header, metadata and content frames per message)."""

    def __init__(self, base: str, path: str):
        self.base, self.path = base, path
        self.ws = None
        self.pending: dict[str, float] = {}
        self.latencies: dict[str, list[float]] = {"step": [], "setting": []}
        self.ids: dict[str, str] = {}
        self.readout = path != "/trivial"
        self.H = 4  # the page's default hidden size
        self.search = ""  # the URL the page shows (its Location model's search), as the browser keeps it
        self.href_id = None  # the Location model: the browser answers each URL the server writes with its href
        self.join_s = float("nan")

    async def join(self) -> None:
        start = time.perf_counter()
        html = await asyncio.to_thread(lambda: urllib.request.urlopen(self.base + self.path, timeout=600).read())
        token = re.search(rb'"token":"([^"]+)"', html).group(1).decode()
        ws_url = self.base.replace("http", "ws") + self.path.split("?")[0] + "/ws"
        self.ws = await websocket_connect(ws_url, subprotocols=["bokeh", token], max_message_size=1 << 30)
        if not CLIENT_NAGLE:  # as a browser's socket: Chromium and Firefox switch Nagle's algorithm off
            self.ws.protocol.set_nodelay(True)
        await self._read()  # ACK
        await self._send("PULL-DOC-REQ", {})
        doc = await self._read_until("PULL-DOC-REPLY")
        self.join_s = time.perf_counter() - start
        self._find_models(doc)
        asyncio.ensure_future(self._listen())

    def _find_models(self, content: dict) -> None:
        refs = content["doc"]["roots"]
        stack = list(refs)
        while stack:
            m = stack.pop()
            if isinstance(m, dict):
                if m.get("type") == "object":
                    attrs = m.get("attributes", {})
                    if m.get("name") == "ColumnDataSource" and "report" not in self.ids:
                        data = json.dumps(attrs.get("data", ""))
                        if '"gate"' in data and '"t"' in data:
                            self.ids["report"] = m["id"]
                    if str(m.get("name", "")).endswith("TextInput") and attrs.get("title") == "H (hidden)":
                        self.ids["H"] = m["id"]
                    if str(m.get("name", "")).endswith(".Location") and isinstance(attrs.get("search"), str):
                        self.search, self.href_id = attrs["search"], m["id"]
                stack.extend(m.values())
            elif isinstance(m, list):
                stack.extend(m)

    async def _send(self, msgtype: str, content: dict) -> str:
        msgid = uuid.uuid4().hex
        await self.ws.write_message(json.dumps({"msgid": msgid, "msgtype": msgtype}))
        await self.ws.write_message("{}")
        await self.ws.write_message(json.dumps(content))
        return msgid

    async def _read(self) -> tuple[dict, str]:
        """One message: its header and its content as text (parsed only where needed: the client must stay
        cheaper than the server it measures)."""
        header = json.loads(await self.ws.read_message())
        await self.ws.read_message()  # metadata
        content = await self.ws.read_message()
        for _ in range(header.get("num_buffers", 0)):  # each buffer: its id (text), then its bytes
            await self.ws.read_message()
            await self.ws.read_message()
        return header, content

    async def _read_until(self, msgtype: str) -> dict:
        while True:
            header, content = await self._read()
            if header["msgtype"] == msgtype:
                return json.loads(content)

    async def _listen(self) -> None:
        """A step report counts when the server acknowledges it (its callback ran before the ``OK``); a setting
        change on /cell when the server's patch carrying the new readout arrives (Panel applies widget
        changes after the ``OK``), on the trivial page at its ``OK``."""
        try:
            while True:
                header, content = await self._read()
                kind = header["msgtype"]
                if kind in ("OK", "ERROR") and header.get("reqid") in self.pending:
                    what, start = self.pending[header["reqid"]]
                    if what == "step" or not self.readout:
                        del self.pending[header["reqid"]]
                        self.latencies[what].append(time.perf_counter() - start)
                elif kind == "PATCH-DOC" and self.readout and "rnn-t" in content:
                    for msgid, (what, start) in list(self.pending.items()):
                        if what == "setting":
                            del self.pending[msgid]
                            self.latencies[what].append(time.perf_counter() - start)
                            break
                if kind == "PATCH-DOC" and '"search"' in content and self.href_id:
                    await self._new_url(json.loads(content))
        except Exception:  # the socket closed: the run is over
            return

    async def _new_url(self, content: dict) -> None:
        """A URL the server wrote: the browser shows it and, as Panel's location view does, sends its href back."""
        for event in content.get("events", []):
            if event.get("attr") == "search" and event.get("model", {}).get("id") == self.href_id:
                self.search = event["new"]
                href = {"kind": "ModelChanged", "model": {"id": self.href_id}, "attr": "href",
                        "new": self.base + self.path + self.search}
                await self._send("PATCH-DOC", {"events": [href]})

    def _step_url(self, t: int, gate: str) -> str:
        """The URL the browser writes for a step (``client_player.RENDER_JS``): t and gate rewritten in place."""
        search = self.search
        for key, value in (("t", str(t)), ("gate", gate)):
            text = f"{key}={value}"
            pattern = re.compile(rf"([?&]){key}=[^&]*")
            search = (pattern.sub(lambda m, text=text: m.group(1) + text, search, count=1) if pattern.search(search)
                      else f"{search}&{text}" if search else f"?{text}")
        self.search = search
        return search

    async def act(self, step_t: int, setting: bool) -> None:
        if setting and "H" in self.ids:
            self.H = random.choice([h for h in (3, 4, 5, 6) if h != self.H])  # a real change: the page recomputes
            event = {"kind": "ModelChanged", "model": {"id": self.ids["H"]}, "attr": "value", "new": str(self.H)}
            kind = "setting"
        elif "report" in self.ids:
            event = {"kind": "ModelChanged", "model": {"id": self.ids["report"]}, "attr": "data",
                     "new": {"type": "map", "entries": [["t", [step_t]], ["gate", ["h"]],
                                                        ["search", [self._step_url(step_t, "h")]]]}}
            kind = "step"
        elif "H" in self.ids:  # the trivial page: every action is a value change
            event = {"kind": "ModelChanged", "model": {"id": self.ids["H"]}, "attr": "value",
                     "new": str(step_t)}
            kind = "setting" if setting else "step"
        else:
            return
        msgid = await self._send("PATCH-DOC", {"events": [event]})
        self.pending[msgid] = (kind, time.perf_counter())


async def _run(base: str, path: str, n: int, seconds: float, late: float, pids: list[int]) -> dict:
    rss0 = _rss_mb(pids)
    students = [Student(base, path) for _ in range(n)]
    n_late = round(late * n)
    first, later = students[: n - n_late], students[n - n_late:]
    sem = asyncio.Semaphore(8)  # the first wave arrives a few at a time

    async def join(s):
        async with sem:
            await s.join()

    await asyncio.gather(*(join(s) for s in first))
    rss1 = _rss_mb(pids)
    cpu0, t0, own0 = _cpu_seconds(pids), time.perf_counter(), time.process_time()
    end = t0 + seconds

    async def behave(s: Student, arrive: float = 0.0):
        if arrive:  # a late student: arrives during the window, then behaves like the others
            await asyncio.sleep(arrive)
            await s.join()
        t = 0
        await asyncio.sleep(random.uniform(0, 2))
        while time.perf_counter() < end:
            t = (t + random.randint(1, 3)) % 19
            await s.act(t, random.random() < 0.1)
            await asyncio.sleep(random.uniform(1.0, 2.0))

    await asyncio.gather(*(behave(s) for s in first),
                         *(behave(s, random.uniform(0.5, seconds - 2)) for s in later))
    await asyncio.sleep(3)  # the last replies
    cpu = _cpu_seconds(pids) - cpu0
    client = (time.process_time() - own0) / (time.perf_counter() - t0)  # share of one core the students used
    rss2 = _rss_mb(pids)
    for s in students:
        if s.ws is not None:
            s.ws.close()
    lat = {k: sorted(x for s in students for x in s.latencies[k]) for k in ("step", "setting")}
    served = sum(len(v) for v in lat.values())
    return {"lat": lat, "cpu_ms": 1000 * cpu / max(served, 1),
            "mb": ((rss1 - rss0) / max(len(first), 1) + (rss2 - rss0) / n) / 2,
            "rate": served / (time.perf_counter() - t0),
            "join_first": sorted(s.join_s for s in first), "join_late": sorted(s.join_s for s in later),
            "client": client}


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return 1000 * values[min(len(values) - 1, int(q * len(values)))]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, nargs="+", default=[25, 50, 100, 200])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument("--late", type=float, default=0.1, help="share of the class arriving during the window")
    parser.add_argument("--variant", action="append", default=[], metavar="LABEL:NAME=VALUE[,NAME=VALUE]",
                        help="one more /cell row per N, its server run with these environment variables "
                             "(e.g. nocache:RNN_BOKEH_DEFAULTS=0), for an A/B in the same run")
    parser.add_argument("--client-nagle", action="store_true",
                        help="keep Nagle's algorithm on the students' sockets, as this script did before stop 22: "
                             "each message then waits for the server's delayed acknowledgement (tens of ms, idle "
                             "or not), which a browser, with Nagle off, does not")
    args = parser.parse_args(argv)
    global CLIENT_NAGLE
    CLIENT_NAGLE = args.client_nagle
    if not 0 <= args.late < 1:
        parser.error(f"--late: got {args.late}; expected a share of the class, at least 0 and below 1")
    variants = {"trivial": {}, "cell": {}}
    for text in args.variant:
        label, _, pairs = text.partition(":")
        env = dict(pair.split("=", 1) for pair in pairs.split(",") if "=" in pair)
        if not label or label in variants or not env or len(env) != len(pairs.split(",")):
            parser.error(f"--variant: got {text!r}; expected a new label, a colon and NAME=VALUE pairs "
                         "separated by commas, e.g. nocache:RNN_BOKEH_DEFAULTS=0")
        variants[label] = env
    print(f"{args.procs} server process(es), {args.seconds:g} s window, {args.late:.0%} of each class arriving in it, "
          f"Nagle's algorithm {'on' if CLIENT_NAGLE else 'off (as in a browser)'} on the students' sockets")
    print(f"{'page':8} {'N':>4} {'step p50/p95/p99 ms':>20} {'setting p50/p95/p99 ms':>23} "
          f"{'join late p50/p95 s':>19} {'join first p50/p95 s':>20} {'CPU ms/req':>10} {'MB/sess':>7} "
          f"{'builds/stud':>11} {'gc max ms':>9} {'load':>5} {'client':>6}")
    for n in args.students:
        rows = {}
        for name, env in variants.items():
            port = _free_port()
            if name != "trivial":
                cmd = [sys.executable, "serve.py", "--no-course", "--port", str(port), "--num-procs", str(args.procs)]
                path = "/cell"
            else:
                cmd = [sys.executable, "-c", TRIVIAL_APP, str(port), str(args.procs)]
                path = "/trivial"
            base = f"http://127.0.0.1:{port}"
            load = os.getloadavg()[0]
            with tempfile.TemporaryDirectory() as tmp:
                log_path = Path(tmp) / "server.log"
                with open(log_path, "wb") as log:
                    proc = _start(cmd, base + path, log, env)
                try:
                    pids = _tree(proc.pid)
                    mark = log_path.stat().st_size  # the start-up check's own request is not a student's
                    rows[name] = r = asyncio.run(_run(base, path, n, args.seconds, args.late, pids))
                finally:
                    _stop(proc)
                text = log_path.read_bytes()[mark:].decode("utf-8", "replace")
            builds = len(BUILT.findall(text)) / n
            gc_max = max((int(ms) for ms in GC_PAUSE.findall(text)), default=0)
            step, setting, jl, jf = r["lat"]["step"], r["lat"]["setting"], r["join_late"], r["join_first"]
            print(f"{name[:8]:8} {n:>4} {_pct(step, .5):6.0f}/{_pct(step, .95):6.0f}/{_pct(step, .99):6.0f} "
                  f"{_pct(setting, .5):9.0f}/{_pct(setting, .95):6.0f}/{_pct(setting, .99):6.0f} "
                  f"{_pct(jl, .5) / 1000:9.2f}/{_pct(jl, .95) / 1000:5.2f} {_pct(jf, .5) / 1000:11.2f}/"
                  f"{_pct(jf, .95) / 1000:5.2f} {r['cpu_ms']:10.1f} {r['mb']:7.2f} {builds:11.2f} "
                  f"{gc_max:9d} {load:5.1f} {r['client']:6.0%}", flush=True)
        t = rows["trivial"]
        for name, c in rows.items():
            if name != "trivial":
                print(f"{'ratio':8} {n:>4} step p95 {name}/trivial = "
                      f"{_pct(c['lat']['step'], .95) / max(_pct(t['lat']['step'], .95), 1e-9):.2f}, "
                      f"CPU per request {name}/trivial = {c['cpu_ms'] / max(t['cpu_ms'], 1e-9):.2f}", flush=True)
    print("baseline: the trivial Panel page above, same server settings, same students, same run; "
          "gc max: the longest collection the server logged (0: none of 50 ms or more)")


if __name__ == "__main__":
    main()
