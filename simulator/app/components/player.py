"""A player for any integer time parameter: play/pause, step back/forward, first/last, scrub, speed, keys.

Keyboard (when no text field has focus): Left/Right step, Space plays or pauses, Home/End jump.
When the browser's system setting asks for reduced motion (``prefers-reduced-motion: reduce``, reported by
``KeyShortcuts`` when it is drawn and whenever the setting changes), Play moves at most ``REDUCED_SPEED`` steps
per second whatever the speed chosen, and the speed menu's help says so. Not covered: a player whose
``keys`` are not drawn (the Cell page's "Your model" section borrows the page's keys) is never told.
"""

from __future__ import annotations

from collections.abc import Callable

import panel as pn
import param
from panel.custom import JSComponent

SPEEDS = (0.5, 1.0, 2.0, 4.0, 8.0)
REDUCED_SPEED = 1.0  # steps per second at most while playing when the system asks for reduced motion
FOLLOW_ARM_MS = 5000  # the browser follows the changes that arrive this long after a step command at most
FOLLOW_SETTLE_MS = 150  # and scrolls once no change has arrived for this long


class KeyShortcuts(JSComponent):
    """Sends the player's commands for Left, Right, Space, Home and End pressed anywhere on the page."""

    _esm = """
    export function render({ model, view }) {
      const keys = {ArrowLeft: "back", ArrowRight: "forward", " ": "toggle", Home: "first", End: "last"};
      const handler = (e) => {
        const target = e.composedPath()[0] || {};
        const tag = (target.tagName || "").toLowerCase();
        if (["input", "textarea", "select"].includes(tag) || target.isContentEditable) return;
        if (e.key === " " && tag === "button") return;  // the focused button's own click handles Space
        if (!(e.key in keys) || e.ctrlKey || e.metaKey || e.altKey) return;
        e.preventDefault();
        if (keys[e.key] !== "toggle") arm();
        model.send_msg(keys[e.key]);
      };
      document.addEventListener("keydown", handler);
      const motion = window.matchMedia ? window.matchMedia("(prefers-reduced-motion: reduce)") : null;
      // Follow a step: what the server changes after it (outside the player's own row) is scrolled into view when
      // no part of it is shown (at least half on screen); the part nearest the window is scrolled to.
      const row = view.parent && view.parent.el;
      let armed = 0, settle = null, changed = new Set();
      const arm = () => { armed = performance.now() + ARM_MS; changed = new Set(); };
      const clicked = (e) => {
        const path = e.composedPath();
        if (row && path.includes(row) && path.some((n) => n.classList && n.classList.contains("rnn-follow"))) arm();
      };
      document.addEventListener("click", clicked, true);
      const inside = (node, box) => {
        for (let n = node; n; n = n.parentNode || n.host) if (n === box) return true;
        return false;
      };
      const drawn = (v) => {  // the nearest view (itself or a parent) drawn on the page: a renderer's is its plot
        for (; v; v = v.parent) {
          if (v.el instanceof Element && v.el.isConnected && v.el.getBoundingClientRect().height > 0) return v.el;
        }
        return null;
      };
      const follow = () => {
        const els = new Set();
        for (const m of changed) {
          const views = view.owner ? [...view.owner.query((v) => v.model === m || v.model.data_source === m)] : [];
          for (const v of views) {
            const el = drawn(v);
            if (el && !(row && inside(el, row)) && !inside(row, el)) els.add(el);
          }
        }
        changed = new Set();
        if (!els.size) return;
        const boxes = [...els].map((el) => [el, el.getBoundingClientRect()]);
        // shown: at least half of it on screen (half the window's height for a part taller than the window)
        const seen = (r) => Math.min(r.bottom, innerHeight) - Math.max(r.top, 0);
        if (boxes.some(([, r]) => seen(r) >= Math.min(r.height, innerHeight) / 2)) return;
        const gap = (r) => (r.top >= innerHeight ? r.top - innerHeight : r.bottom <= 0 ? -r.bottom : 0);
        const [el, r] = boxes.sort((a, b) => gap(a[1]) - gap(b[1]))[0];
        el.scrollIntoView({block: r.height > innerHeight ? "start" : "nearest",
                           behavior: motion && motion.matches ? "auto" : "smooth"});
        el.dataset.rnnFollowed = String(Number(el.dataset.rnnFollowed || 0) + 1);
      };
      const doc = view.model.document;
      const listener = (event) => {
        if (performance.now() > armed) return;
        for (const e of event.events || [event]) if (e.model && e.model.type !== "Tooltip") changed.add(e.model);
        clearTimeout(settle);
        settle = setTimeout(follow, SETTLE_MS);
      };
      if (doc) doc.on_change(listener, true);
      const tell = () => model.send_msg(motion && motion.matches ? "reduced-motion" : "full-motion");
      if (motion) motion.addEventListener("change", tell);
      tell();
      model.on("remove", () => {
        document.removeEventListener("keydown", handler);
        document.removeEventListener("click", clicked, true);
        clearTimeout(settle);
        if (doc) doc.remove_on_change(listener);
        if (motion) motion.removeEventListener("change", tell);
      });
      const el = document.createElement("span");
      el.setAttribute("aria-hidden", "true");
      return el;
    }
    """.replace("ARM_MS", str(FOLLOW_ARM_MS)).replace("SETTLE_MS", str(FOLLOW_SETTLE_MS))

    def __init__(self, on_command, on_motion: Callable[[bool], None] | None = None, **params):
        super().__init__(height=0, width=0, margin=0, **params)
        self._on_command, self._on_motion = on_command, on_motion

    def _handle_msg(self, msg) -> None:
        if msg in ("back", "forward", "toggle", "first", "last"):
            self._on_command(msg)
        elif msg in ("reduced-motion", "full-motion") and self._on_motion is not None:
            self._on_motion(msg == "reduced-motion")


class Player(pn.viewable.Viewer):
    """Controls for ``target.<name>`` (an ``Integer`` with bounds): the view of a time cursor."""

    playing = param.Boolean(default=False, doc="Advance one step per tick until the last step.")
    speed = param.Selector(objects=list(SPEEDS), default=2.0, doc="Steps per second while playing.")
    reduced_motion = param.Boolean(default=False, doc="The browser asks for reduced motion: Play is capped at "
                                                      "REDUCED_SPEED steps per second.")

    def __init__(self, target: param.Parameterized, name: str = "t", label: str = "Time step t",
                 substep: Callable[[], bool] | None = None, server_clicks: bool = True, **params):
        """``substep``, if given, is called at each tick first; when it returns True the tick is used up
        (e.g. lighting the next gate of the same step) and ``t`` does not move.
        """
        super().__init__(**params)
        self.target, self.key, self.substep = target, name, substep
        self._callback = None
        button = {"height": 34, "margin": (4, 2)}
        self.first = pn.widgets.Button(label="|◀", description="First step (Home)", width=44,
                                       css_classes=["rnn-follow"], **button)
        self.back = pn.widgets.Button(label="◀ Back", description="Step back (Left arrow)", width=78,
                                      css_classes=["rnn-follow"], **button)
        self.play = pn.widgets.Button(label="▶ Play", description="Play / pause (Space)", color="primary",
                                      width=84, **button)
        self.forward = pn.widgets.Button(label="Step ▶", description="Step forward (Right arrow)", width=78,
                                         css_classes=["rnn-step", "rnn-follow"], **button)
        self.last = pn.widgets.Button(label="▶|", description="Last step (End)", width=44,
                                      css_classes=["rnn-follow"], **button)
        for widget, command in ((self.first, "first"), (self.back, "back"), (self.play, "toggle"),
                                (self.forward, "forward"), (self.last, "last")):
            if server_clicks:  # False: the browser handles the clicks itself (``ClientPlayer``)
                widget.on_click(lambda event, c=command: self.command(c))
        self.slider = pn.widgets.IntSlider.from_param(target.param[name], label=label, width=320)
        self.speed_select = pn.widgets.Select.from_param(self.param.speed, label="Steps/s", width=80)
        self.keys = KeyShortcuts(self.command, on_motion=lambda reduced: setattr(self, "reduced_motion", reduced))

    @property
    def steps_per_second(self) -> float:
        """The pace of Play: the chosen speed, at most ``REDUCED_SPEED`` with reduced motion."""
        return min(float(self.speed), REDUCED_SPEED) if self.reduced_motion else float(self.speed)

    def command(self, command: str) -> None:
        """Run a player command: ``back``, ``forward``, ``toggle``, ``first`` or ``last``."""
        lo, hi = self.target.param[self.key].bounds
        t = getattr(self.target, self.key)
        if command == "toggle":
            self.playing = not self.playing
            return
        new = {"back": t - 1, "forward": t + 1, "first": lo, "last": hi}[command]
        setattr(self.target, self.key, int(min(max(new, lo), hi)))

    def tick(self) -> None:
        """One step of play (or one sub-step); stops at the last step."""
        if self.substep is not None and self.substep():
            return
        lo, hi = self.target.param[self.key].bounds
        t = getattr(self.target, self.key)
        if t >= hi:
            self.playing = False
            return
        setattr(self.target, self.key, t + 1)

    @param.depends("reduced_motion", watch=True)
    def _say_pace(self) -> None:
        doc = self.param.speed.doc
        self.speed_select.description = (f"{doc} Your system asks for reduced motion, so Play moves at most "
                                         f"{REDUCED_SPEED:g} step per second." if self.reduced_motion else doc)
        self._schedule()

    @param.depends("playing", "speed", watch=True)
    def _schedule(self) -> None:
        if self._callback is not None:
            self._callback.stop()
            self._callback = None
        self.play.label = "❚❚ Pause" if self.playing else "▶ Play"
        if self.playing:
            lo, hi = self.target.param[self.key].bounds
            if getattr(self.target, self.key) >= hi:
                setattr(self.target, self.key, lo)  # play from the start again
            self._callback = pn.state.add_periodic_callback(self.tick, period=int(1000 / self.steps_per_second))

    def __panel__(self):
        return pn.Row(self.first, self.back, self.play, self.forward, self.last, self.slider, self.speed_select,
                      self.keys, align="center")
