"""A player whose steps cost no round trip: step, scrub, play and slow play run in the browser on a timeline.

The server sends, once per run (and again when the unit, the selection or the layout changes), a *timeline*:
every step's vector values, the equations' rows and the numbers the readout needs, as one JSON string in a
``ColumnDataSource``. The browser's code (``RENDER_JS``) then draws step ``t`` itself: it rewrites the
diagrams' cells, moves the heatmap cursors and the trajectory ring, fills the readout and the equations.
The server learns the step only through a throttled report (``REPORT_MS`` after the last move), which moves
the model's ``t`` quietly (the page does not redraw what the browser already drew). The browser writes the
step into the URL itself and says in the report which URL it shows; when that is the URL the server writes,
the server takes it without sending it back (``urlstate.shown_by_browser``): a step costs one message each way.

Every number the browser shows comes from the timeline, i.e. from the reference cache; the JavaScript only
selects and formats (``short`` mirrors ``numbers.short``; the exact value is JavaScript's shortest
round-trip text, which reads back to the same float64 as Python's ``repr``).

Play never starts by itself, and pauses with the same button or Space; when the system asks for reduced motion
(``prefers-reduced-motion: reduce``) it moves at most ``REDUCED_SPEED`` steps per second whatever the speed.

Not covered: clicking a diagram column, changing the unit or any setting still goes to the server (a
setting change, as intended); while the report is pending the server's ``t`` lags the screen by at most
``REPORT_MS``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

import panel as pn
import param
from bokeh.models import Button as BokehButton
from bokeh.models import ColumnDataSource, CustomJS, Slider
from panel.custom import JSComponent

from simulator.app.components import palette
from simulator.app.components.equations import MARK
from simulator.app.components.player import REDUCED_SPEED, Player
from simulator.app.components.reflow import NARROW

# WCAG 2.2 target size: the slider's handle at least 24 x 24 px (Bokeh draws it 14 x 18)
HANDLE_24PX = (".noUi-horizontal .noUi-handle { width: 24px !important; height: 24px !important; "
               "right: -12px !important; top: -10px !important; }")
# at either end the handle passes its track by half its width: on a phone, where the slider starts a line at the
# window's edge, the track leaves that room (at t = 0 the handle was 6 px outside a 390 px window)
HANDLE_ROOM = f"@media (max-width: {NARROW}px) {{ :host {{ padding: 0 12px !important; }} }}"
REPORT_MS = 400  # the browser reports its step this long after the last move (a held arrow key sends one report)

# Formatting shared by every callback (the callbacks cannot share a module, so the text is prepended).
HELPERS_JS = r"""
const short = (x) => {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return "0";
  const a = Math.abs(x);
  if (a >= 1e-4 && a < 1e6) {
    const decimals = Math.max(3 - Math.floor(Math.log10(a)), 0);
    let s = x.toFixed(decimals);
    if (s.includes(".")) s = s.replace(/0+$/, "").replace(/\.$/, "");
    return s;
  }
  return x.toExponential(3);
};
const esc = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
const num = (v, cls) =>
  `<code class="${cls}" data-exact="${String(v)}" title="exact value ${String(v)}">${short(v)}</code>`;
// palette.text_colors: the text colour of the bin the value is drawn in (values outside take the end bins)
const textOn = (v) => {
  const TEXT_ON = %TEXT_ON%, LOW = %LOW%, HIGH = %HIGH%;
  const n = TEXT_ON.length, x = Number.isNaN(v) ? (LOW + HIGH) / 2 : v;
  return TEXT_ON[Math.min(Math.max(Math.floor((x - LOW) / (HIGH - LOW) * n), 0), n - 1)];
};
const timelineOf = (src) => {
  const text = src.data.json && src.data.json[0];
  if (!text) return null;
  if (src._rnn_text !== text) { src._rnn_text = text; src._rnn_value = JSON.parse(text); }
  return src._rnn_value;
};
""".replace("%TEXT_ON%", json.dumps(list(palette.TEXT_ON))).replace("%LOW%", repr(palette.LOW)).replace(
    "%HIGH%", repr(palette.HIGH))

RENDER_JS = HELPERS_JS + r"""
const tl = timelineOf(timeline);
if (!tl) return;
const t = Math.min(Math.max(Math.round(slider.value), 0), tl.T - 1);
if (slider._rnn_sel === undefined || slider._rnn_timeline !== timeline._rnn_text) {
  slider._rnn_sel = tl.selected; slider._rnn_timeline = timeline._rnn_text;
}
const sel = tl.order.includes(slider._rnn_sel) ? slider._rnn_sel : "h";
keys.forEach((key, k) => {
  const d = tl.diagrams[key];
  if (!d) return;  // not shown in this mode
  const src = cells[k], vals = d.values[t], data = src.data;
  if (!data.value || data.value.length !== vals.length) return;  // a new layout is on its way
  for (let i = 0; i < vals.length; i++) {
    const v = vals[i];
    data.value[i] = v; data.text[i] = v.toFixed(2);
    data.text_color[i] = textOn(v); data.exact[i] = String(v);
  }
  src.change.emit();
  highlights[k].data = d.rects[sel] || {x: [], y: [], w: [], h: []};
});
for (const c of cursors) c.data = {left: [t - 0.5], right: [t + 0.5]};
if (marker && tl.xy) marker.data = {x: [tl.xy[t][0]], y: [tl.xy[t][1]]};
if (!readout) return;  // a binding of extra diagrams: the main one writes the text and reports
if (!slider._rnn_command) { COMMAND_JS slider._rnn_command = run; }  // the keys use it from the first draw on
const main = tl.diagrams[tl.main], vals = main.values[t], sl = main.slices;
const j = Math.min(tl.unit, sl[sel][1] - sl[sel][0] - 1);
const value = vals[sl[sel][0] + j], h = vals[sl.h[0] + tl.unit];
const numbers = (sel === "h" && j === tl.unit) ? `hₜ[${tl.unit}] = ${num(h, "rnn-selected rnn-h")}`
  : `${esc(tl.labels[sel])}[${j}] = ${num(value, "rnn-selected")} &nbsp;·&nbsp; hₜ[${tl.unit}] = ${num(h, "rnn-h")}`;
readout.text = `<div><b>${esc(tl.name)}</b>, step <b class="rnn-t">t = ${t}</b> (of 0–${tl.T - 1}) &nbsp;·&nbsp; ` +
  `${numbers}</div>` + tl.hint;
const lines = tl.rows[t].map(([name, sym, nm]) => name === sel
  ? `\\textcolor{${tl.highlight}}{MARK${sym}} &\\quad \\textcolor{${tl.highlight}}{${nm}}` : `${sym} &\\quad ${nm}`);
equations.text = "$$\\begin{aligned}" + `\\text{step } t = ${t},\\ \\text{unit } j = ${tl.unit}` + "\\\\[2pt]" +
  lines.join("\\\\") + "\\end{aligned}$$";
if (table) {
  const width = Math.max(...tl.order.map((n) => sl[n][1] - sl[n][0]));
  const head = Array.from({length: width}, (_, k) => `<th scope="col">${k}</th>`).join("");
  const rows = tl.order.map((n) => {
    const tds = [];
    for (let i = sl[n][0]; i < sl[n][1]; i++) tds.push(`<td>${short(vals[i])}</td>`);
    return `<tr><th scope="row">${esc(tl.labels[n])}</th>${tds.join("")}</tr>`;
  });
  table.text = `<table class="rnn-numbers-table"><caption>${esc(tl.name)}, step t = ${t}: every vector's ` +
    `numbers (rows: vectors, columns: unit index)</caption><tr><th scope="col">vector</th>${head}</tr>` +
    rows.join("") + "</table>";
}
clearTimeout(slider._rnn_report);
slider._rnn_report = setTimeout(() => {
  if (report.data.t && report.data.t[0] === t && report.data.gate[0] === sel) return;
  // the URL: this step's keys rewritten in place, as the server writes them (urlstate.py); the page's Location
  // model learns it silently (no message), and the report carries it so that the server need not send it back
  // (a key the URL lacks goes at its end; the server's first write after a load may still differ and is sent)
  let search = window.location.search;
  for (const [key, value] of [[url_keys[0], String(t)], [url_keys[1], sel]]) {  // NB: a list (a dict arrives as a Map)
    if (!key) { search = ""; break; }
    const re = new RegExp(`([?&])${key}=[^&]*`), text = `${key}=${encodeURIComponent(value)}`;
    search = re.test(search) ? search.replace(re, (_, sep) => `${sep}${text}`)
      : `${search ? search + "&" : "?"}${text}`;
  }
  if (search && search !== window.location.search) {
    window.history.pushState({}, "", window.location.pathname + search + window.location.hash);
    for (const m of slider.document ? slider.document.all_models : []) {
      if (m.constructor.__name__ === "Location" && "search" in m.properties) {
        m.setv({search: search, href: window.location.href}, {silent: true});
      }
    }
  }
  report.data = {t: [t], gate: [sel], search: [search]};
}, REPORT_MS);
"""

# One command of the player (cmd: back, forward, first, last, toggle) on the browser's slider.
COMMAND_JS = r"""
const REDUCED_MOTION = () => window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
const run = (cmd) => {
  const lo = slider.start, hi = slider.end, t = slider.value;
  const stop = () => { clearInterval(slider._rnn_timer); slider._rnn_timer = null; play.label = "▶ Play"; };
  if (cmd === "toggle") {
    if (slider._rnn_timer) { stop(); return; }
    if (t >= hi) slider.value = lo;
    play.label = "❚❚ Pause";
    slider._rnn_timer = setInterval(() => {
      if (controls.data.slow[0]) {
        const order = JSON.parse(timeline.data.json[0]).order, k = order.indexOf(slider._rnn_sel);
        if (k >= 0 && k + 1 < order.length) { slider._rnn_sel = order[k + 1]; slider.tags = [Math.random()]; return; }
        if (slider.value < slider.end) slider._rnn_sel = order[0];
      }
      if (slider.value >= slider.end) { stop(); return; }
      slider.value = slider.value + 1;
    }, 1000 / Math.min(Number(controls.data.speed[0]), REDUCED_MOTION() ? REDUCED_SPEED : Infinity));
    return;
  }
  if (slider._rnn_timer && cmd !== "forward" && cmd !== "back") stop();
  const target = {back: t - 1, forward: t + 1, first: lo, last: hi}[cmd];
  slider.value = Math.min(Math.max(target, lo), hi);
};
""".replace("REDUCED_SPEED", repr(REDUCED_SPEED))


class BrowserKeys(JSComponent):
    """Left, Right, Space, Home and End anywhere on the page drive the player's buttons in the browser."""

    target = param.String(default="", doc="Name of the player's Bokeh slider (the page finds it by name).")

    _esm = """
    export function render({ model }) {
      const keys = {ArrowLeft: "back", ArrowRight: "forward", " ": "toggle", Home: "first", End: "last"};
      const handler = (e) => {
        const target = e.composedPath()[0] || {};
        const tag = (target.tagName || "").toLowerCase();
        if (["input", "textarea", "select"].includes(tag) || target.isContentEditable) return;
        if (e.key === " " && tag === "button") return;  // the focused button's own click handles Space
        if (target.classList && target.classList.contains("noUi-handle")) return;  // a focused slider moves itself
        // a focused box that scrolls sideways (a wide equation or table on a phone) scrolls with ← →
        if (e.key.startsWith("Arrow") && target.scrollWidth > target.clientWidth + 1
            && ["auto", "scroll"].includes(getComputedStyle(target).overflowX)) return;
        if (!(e.key in keys) || e.ctrlKey || e.metaKey || e.altKey) return;
        for (const doc of Bokeh.documents) {
          const slider = doc.get_model_by_name(model.target);
          if (slider && slider._rnn_command) { e.preventDefault(); slider._rnn_command(keys[e.key]); return; }
        }
      };
      document.addEventListener("keydown", handler);
      // draw once in the browser as soon as the clock exists, which installs the command the keys call
      let tries = 0;
      const wake = () => {
        for (const doc of Bokeh.documents) {
          const slider = doc.get_model_by_name(model.target);
          if (slider) { if (!slider._rnn_command) slider.tags = [Math.random()]; return; }
        }
        if (tries++ < 50) setTimeout(wake, 200);
      };
      setTimeout(wake, 0);
      // a text box that scrolls sideways (reflow.narrowing(scroll=True), on a phone) is a named Tab stop while it
      // scrolls (every browser, and axe's scrollable-region-focusable); never at a width where it does not
      const reachable = () => {
        const walk = (root) => {
          for (const el of root.querySelectorAll(".rnn-scroll-text")) {
            const wide = el.scrollWidth > el.clientWidth + 1, ours = el.hasAttribute("data-rnn-reachable");
            if (wide && !ours && !el.hasAttribute("tabindex")) {
              const label = getComputedStyle(el).getPropertyValue("--rnn-scroll-label").trim().replace(/^"|"$/g, "");
              el.setAttribute("tabindex", "0"); el.setAttribute("role", "region");
              el.setAttribute("data-rnn-reachable", "");
              el.setAttribute("aria-label", (label || "Wide content") + " (scrolls sideways: ← →)");
            } else if (!wide && ours) {
              for (const a of ["tabindex", "role", "aria-label", "data-rnn-reachable"]) el.removeAttribute(a);
            }
          }
          for (const host of root.querySelectorAll("*")) if (host.shadowRoot) walk(host.shadowRoot);
        };
        walk(document);
      };
      const timer = setInterval(reachable, 1000);
      model.on("remove", () => { document.removeEventListener("keydown", handler); clearInterval(timer); });
      const el = document.createElement("span");
      el.setAttribute("aria-hidden", "true");
      return el;
    }
    """

    def __init__(self, **params):
        super().__init__(height=0, width=0, margin=0, **params)


class ClientPlayer(Player):
    """``Player`` (same Python API: ``command``, ``tick``, ``playing``, ``speed``) whose buttons, keys and slider
    act in the browser. ``bind`` connects it to the sources a step changes; ``on_report(t, gate)`` receives
    the browser's throttled report.
    """

    def __init__(self, target: param.Parameterized, name: str = "t", label: str = "Time step t",
                 substep: Callable[[], bool] | None = None, **params):
        super().__init__(target, name, label=label, substep=substep, server_clicks=False, **params)
        # Bokeh's own buttons: a browser callback can hold them (Panel widgets exist only per rendered root)
        style = {"height": 34, "margin": (4, 2)}
        self.first = BokehButton(label="|◀", width=44, css_classes=["rnn-first"], **style)
        self.back = BokehButton(label="◀ Back", width=78, css_classes=["rnn-back"], **style)
        self.play = BokehButton(label="▶ Play", width=84, button_type="primary", css_classes=["rnn-play"], **style)
        self.forward = BokehButton(label="Step ▶", width=78, css_classes=["rnn-step"], **style)
        self.last = BokehButton(label="▶|", width=44, css_classes=["rnn-last"], **style)
        self.controls = ColumnDataSource({"speed": [float(self.speed)], "slow": [False]})
        self.param.watch(lambda e: self.controls.patch({"speed": [(0, float(e.new))]}), "speed")
        lo, hi = target.param[name].bounds
        self.slider = Slider(start=lo, end=max(hi, lo + 1), value=getattr(target, name), step=1, title=label,
                             width=320, syncable=False, name=f"rnn-clock-{id(self)}",
                             css_classes=["rnn-clock"], stylesheets=[HANDLE_24PX, HANDLE_ROOM])
        self.timeline = ColumnDataSource({"json": [""]}, syncable=False)
        self.report = ColumnDataSource({"t": [], "gate": [], "search": []})
        self.keys = BrowserKeys(target=self.slider.name)
        self._bound = False

    def bind(self, *, keys: Sequence[str], cells: Sequence, highlights: Sequence, cursors: Sequence = (),
             marker=None, readout=None, equations=None, table=None,
             on_report: Callable[[int, str, str], None] | None = None,
             url_keys: dict[str, str] | None = None) -> None:
        """Attach the browser code to the models a step changes; may be called again for more diagrams.

        ``keys[k]`` names the timeline's diagram whose values ``cells[k]`` shows. The first call carries the
        readout (a Bokeh ``Div``), the equations (``client_latex(...).model``), the "numbers as text" table (a
        ``Div``, for screen readers: a canvas cannot be read), ``on_report(t, gate, search)`` and ``url_keys``
        (the URL keys of ``t`` and the selection, ``{"t": ..., "gate": ...}``: the browser rewrites them in the
        URL itself and reports the URL it shows as ``search``, "" when it could not); later calls add diagrams
        and cursors only.
        """
        js_mark = MARK.replace("\\", "\\\\")  # inside a JavaScript template literal
        url = url_keys or {}
        args = {"slider": self.slider, "timeline": self.timeline, "report": self.report, "keys": list(keys),
                "cells": list(cells), "highlights": list(highlights), "cursors": list(cursors), "marker": marker,
                "readout": readout, "equations": equations, "table": table,
                "url_keys": [url.get("t", ""), url.get("gate", "")]}
        if not self._bound:
            args.update(play=self.play, controls=self.controls)
        render = CustomJS(args=args, code=RENDER_JS.replace("REPORT_MS", str(REPORT_MS)).replace("MARK", js_mark)
                          .replace("COMMAND_JS", COMMAND_JS))
        if self._bound:  # more diagrams for the same clock
            self.slider.js_on_change("value", render)
            self.slider.js_on_change("tags", render)
            return
        # NB: ``tags`` is the redraw signal (a new timeline, a slow-play sub-step): the slider is not synced back
        self.slider.js_on_change("value", render)
        self.slider.js_on_change("tags", render)
        # a new timeline (new run, unit or selection): redraw the browser's current step from it once the other
        # models of the same message (a new layout) are in place
        self.timeline.js_on_change("data", CustomJS(args={"slider": self.slider},
                                                    code="setTimeout(() => { slider.tags = [Math.random()]; }, 0);"))
        for widget, cmd in ((self.first, "first"), (self.back, "back"), (self.play, "toggle"),
                            (self.forward, "forward"), (self.last, "last")):
            widget.js_on_event("button_click", CustomJS(
                args={"slider": self.slider, "play": self.play, "controls": self.controls,
                      "timeline": self.timeline, "cmd": cmd},
                code=COMMAND_JS + "slider._rnn_command = run; run(cmd);"))
        if on_report is not None:
            self.report.on_change("data", lambda attr, old, new: self._reported(new, on_report))
        self._bound = True

    def _reported(self, data: dict, on_report: Callable[[int, str, str], None]) -> None:
        """A browser's report (untrusted: the page checks ``t`` and ``gate``; ``search`` is compared, never used)."""
        if data.get("t") and data.get("gate"):
            search = data.get("search") or [""]
            on_report(int(data["t"][0]), str(data["gate"][0]), search[0] if isinstance(search[0], str) else "")

    def set_slow(self, slow: bool) -> None:
        """Slow play (one vector after another within each step) on or off, for the browser's play loop."""
        self.controls.patch({"slow": [(0, bool(slow))]})

    def set_timeline(self, timeline: dict) -> None:
        """Send the run's timeline to the browser (once per run or view setting)."""
        self.timeline.data = {"json": [json.dumps(timeline, separators=(",", ":"), allow_nan=False)]}

    def show_step(self, t: int, hi: int) -> None:
        """The server moved ``t`` (URL, a test, a shorter run): move the browser's slider too."""
        self.slider.update(end=max(hi, 1), value=int(t))

    def __panel__(self):
        buttons = [pn.pane.Bokeh(b) for b in (self.first, self.back, self.play, self.forward, self.last)]
        return pn.Row(*buttons, pn.pane.Bokeh(self.slider), self.speed_select, self.keys, align="center")


def client_latex(**kwargs) -> ClientLaTeX:
    """A LaTeX view whose text the browser may rewrite without sending it back to the server."""
    return ClientLaTeX(**kwargs)


# KaTeX writes every equation twice: MathML (what screen readers read, and what Chromium draws natively) and an
# HTML copy that needs katex.min.css, which does not reach into a Bokeh view's shadow root. ``pn.pane.LaTeX``
# hides the HTML copy with this rule in its shadow root; the model used directly needs the same rule, or the
# unstyled copy shows as a second, flat line of text under the drawing.
KATEX_SHOW_MATHML_ONLY = "span.katex-html { display: none; }"


class ClientLaTeX(pn.viewable.Viewer):
    """Panel's KaTeX model used directly (a browser callback needs the Bokeh model itself, not a pane).

    ``object`` is the LaTeX text, as for ``pn.pane.LaTeX``; the model is not synced back to the server. As in
    ``pn.pane.LaTeX`` the equations are drawn from KaTeX's MathML (``KATEX_SHOW_MATHML_ONLY``), so what the eye
    sees is what a screen reader reads.
    """

    def __init__(self, width: int | None = None, styles: dict | None = None, **params):
        super().__init__(**params)
        from panel.models.katex import KaTeX

        self.model = KaTeX(text="", width=width, styles=styles or {}, syncable=False,
                           stylesheets=[KATEX_SHOW_MATHML_ONLY])

    @property
    def object(self) -> str:
        return self.model.text

    @object.setter
    def object(self, text: str) -> None:
        self.model.text = text

    def __panel__(self):
        return pn.pane.Bokeh(self.model)
