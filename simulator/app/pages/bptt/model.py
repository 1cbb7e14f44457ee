"""The BPTT lab's state without GUI code: settings as parameters, reference results as plain attributes.

Three parts, each recomputed only when its settings change:

* ``compare``: RNN, LSTM and GRU, freshly initialised with the same seed, on the same probe sequences:
  ``||dL/dh_t||``, ``||dh_T/dh_t||`` and the spectra of the recurrent weights (``bptt_lab.compare_cells``).
* ``walk``: one short sequence through the animation's cell, BPTT step by step (``bptt_lab.backward_walk``);
  ``anim_step = k`` means the backward pass has processed steps ``T_anim-1 .. T_anim-k``.
* ``run``: live training (``bptt_lab.LongRangeRun``) of the selected cell; ``tick()`` advances it by
  ``iterations_per_tick`` iterations while ``playing``. Changing the learning rate or clipping applies to
  the running optimiser; changing the task, T, cell or initialisation starts a new run.

``compare`` and a new ``run`` cost up to a second at T = 100, H = 64. By default they are computed at once;
a served page sets ``defer`` so that a setting change only asks for them: ``defer(admit)`` hands ``admit`` to
the session's worker-pool Runner, which calls it when the job is admitted; ``admit()`` reads the settings of
that moment and returns ``(compute, publish)``: ``compute()`` is a pure function of frozen configs (a worker
thread runs it), ``publish(result)`` stores the result on the event loop. ``computing`` is True meanwhile.

Every number is read from those reference objects; this module only selects and stores them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import param

from simulator.cells import KINDS, RECURRENT_INITS
from simulator.lessons import bptt_lab

# settings that define the network and its data (a change re-initialises everything)
NETWORK = ("task", "T", "hidden", "activation", "recurrent_init", "recurrent_scale", "gate_bias", "seed")


class BPTTLab(param.Parameterized):
    """Settings of the BPTT lab and the reference results they produce."""

    task = param.Selector(default="first_symbol", objects=list(bptt_lab.tasks.TASKS),
                          doc="Long-range task: remember the first symbol (classification) or the adding problem.")
    T = param.Integer(default=30, bounds=(2, 100), doc="Sequence length T: the answer is T-1 steps back.")
    hidden = param.Integer(default=32, bounds=(2, 64), doc="Hidden size H of the trained network.")
    kind = param.Selector(default="lstm", objects=list(KINDS), doc="Cell trained live.")
    lr = param.Number(default=0.01, bounds=(1e-4, 1.0), doc="Adam learning rate.")
    clip = param.Boolean(default=True, doc="Clip the gradient's global norm before each update.")
    clip_norm = param.Number(default=1.0, bounds=(0.01, 100.0), doc="Clipping threshold c: g <- g min(1, c/||g||).")
    activation = param.Selector(default="tanh", objects=["tanh", "relu"], doc="RNN activation.")
    recurrent_init = param.Selector(default="orthogonal", objects=list(RECURRENT_INITS),
                                    doc="Initialisation of the recurrent weights.")
    recurrent_scale = param.Number(default=1.0, bounds=(0.1, 3.0), step=0.05,
                                   doc="Multiplies the recurrent weights: below 1 they shrink, above 1 they grow.")
    gate_bias = param.Number(default=3.0, bounds=(-3.0, 5.0), doc="Initial LSTM forget / GRU update gate bias.")
    seed = param.Integer(default=0, bounds=(0, 1_000_000), doc="Seed of weights and data.")
    iterations_per_tick = param.Integer(default=5, bounds=(1, 50), doc="Training iterations per screen update.")
    playing = param.Boolean(default=False, doc="Training runs while True.")

    anim_kind = param.Selector(default="lstm", objects=list(KINDS), doc="Cell of the backward animation.")
    anim_length = param.Integer(default=8, bounds=(2, 20), doc="Length of the animated sequence.")
    anim_hidden = param.Integer(default=4, bounds=(2, 8), doc="Hidden size of the animated network.")
    anim_weight = param.Selector(default="recurrent", objects=list(bptt_lab.WEIGHT_KEYS),
                                 doc="Which weight's per-step contributions the animation shows.")
    anim_step = param.Integer(default=0, bounds=(0, 8), doc="Backward steps done (0: only the forward pass).")

    error = param.String(default="", doc="Why the last action failed (shown in the page), or empty.")
    iteration = param.Integer(default=0, bounds=(0, None), precedence=-1, doc="Training iterations done (read-only).")
    version = param.Integer(default=0, precedence=-1, doc="Bumped whenever compare or run is replaced.")
    computing = param.Boolean(default=False, precedence=-1,
                              doc="A recompute for new settings is waiting or running (read-only).")

    def __init__(self, **params):
        super().__init__(**params)
        self.compare: dict = {}
        self.spectra: dict = {}
        self.walk: bptt_lab.BackwardWalk | None = None
        self.run: bptt_lab.LongRangeRun | None = None
        self.defer: Callable[[Callable], None] | None = None  # None: recompute at once (see the module docstring)
        self._want: set[str] = set()  # parts asked for and not yet admitted: "compare", "run"
        self._generation = 0  # bumped at every request; only the latest request's result ends ``computing``
        self._rebuild()
        self._rebuild_walk()

    # ------------------------------------------------------------------ configs
    def config(self, kind: str | None = None) -> bptt_lab.LabConfig:
        """The ``LabConfig`` of the current settings (for ``kind``, default the trained cell)."""
        return bptt_lab.LabConfig(kind=kind or self.kind, task=self.task, T=self.T, hidden=self.hidden,
                                   lr=self.lr, clip=self.clip_norm if self.clip else None,
                                   recurrent_init=self.recurrent_init, recurrent_scale=self.recurrent_scale,
                                   activation=self.activation, gate_bias=self.gate_bias, seed=self.seed)

    def anim_config(self) -> bptt_lab.LabConfig:
        return replace(self.config(self.anim_kind), T=self.anim_length, hidden=self.anim_hidden)

    # ------------------------------------------------------------------ recomputation
    @param.depends(*NETWORK, watch=True)
    def _rebuild(self) -> None:
        """New comparison and a new training run (the network changed)."""
        self._recompute({"compare", "run"})

    @param.depends("kind", watch=True)
    def _on_kind(self) -> None:
        self._recompute({"run"})

    def _recompute(self, parts: set[str]) -> None:
        self.playing = False
        self._want |= parts
        self._generation += 1
        if self.defer is None:
            compute, publish = self._admit()
            publish(compute())
            return
        self.computing = True
        self.defer(self._admit)

    def _admit(self):
        """``(compute, publish)`` for the parts wanted, at the settings of now (None: nothing left to do)."""
        if not self._want:
            return None
        parts, self._want = self._want, set()
        generation, per_tick = self._generation, self.iterations_per_tick
        configs = {k: self.config(k) for k in KINDS}
        config = self.config()
        return (lambda: network(parts, config, configs, per_tick)), (lambda result: self._publish(generation, result))

    def _publish(self, generation: int, result: dict) -> None:
        """Store a finished recompute (on the page's thread); an older request's result is shown until the latest."""
        if "error" in result:
            self.error = result["error"]
        else:
            if "compare" in result:
                self.compare, self.spectra = result["compare"], result["spectra"]
            self.run = result["run"]
            self.iteration = 0
            if self.error.startswith("Training stopped") or "compare" in result:
                self.error = ""
        if generation == self._generation:
            self.computing = False
        self.version += 1

    @param.depends("lr", "clip", "clip_norm", watch=True)
    def _on_optimiser(self) -> None:
        """Learning rate and clipping act on the running optimiser from the next iteration on."""
        if self.run is not None:
            self.run.optimizer.lr = self.lr
            self.run.optimizer.clip_norm = self.clip_norm if self.clip else None
            self.run.config = replace(self.run.config, lr=self.lr, clip=self.clip_norm if self.clip else None)

    @param.depends("iterations_per_tick", watch=True)
    def _on_per_tick(self) -> None:
        """The Jacobians ``dh_T/dh_t`` are measured once per screen update (they cost more than an iteration)."""
        if self.run is not None:
            self.run.jacobian_every = self.iterations_per_tick

    @param.depends("anim_kind", "anim_length", "anim_hidden", *NETWORK, watch=True)
    def _rebuild_walk(self) -> None:
        self.param.anim_step.bounds = (0, self.anim_length)
        self.anim_step = min(self.anim_step, self.anim_length)
        try:
            self.walk = bptt_lab.backward_walk(self.anim_config())
        except ValueError as exc:
            self.error = str(exc)
        self.param.trigger("anim_step")

    # ------------------------------------------------------------------ training
    def reset(self) -> None:
        """Start training again from the initial weights."""
        self._recompute({"run"})

    def train(self, n: int | None = None) -> None:
        """``n`` iterations now (default ``iterations_per_tick``); a diverging loss stops play with a message."""
        if self.run is None:
            return
        run = self.run
        self.finish_steps(run, step_run(run, n or self.iterations_per_tick))

    def steps_job(self, n: int | None = None):
        """``(run, job)``: ``job()`` runs ``n`` iterations of the current run and returns its error text.

        The job touches only that run object, so a worker thread may run it; hand its result back with
        ``finish_steps(run, error)`` on the page's thread.
        """
        run, n = self.run, n or self.iterations_per_tick
        return run, (lambda: step_run(run, n))

    def finish_steps(self, run, error: str) -> None:
        """Publish a finished batch of ``run``; a run replaced meanwhile (Reset, new settings) is ignored."""
        if run is not self.run:
            return
        if error:
            self.playing = False
            self.error = error
        self.iteration = run.iteration

    def tick(self) -> None:
        """One update while playing (the page calls this periodically)."""
        if self.playing:
            self.train()

    @property
    def anim_key(self) -> str:
        """The parameter name of the animated weight (e.g. ``W_hh``)."""
        return bptt_lab.WEIGHT_KEYS[self.anim_weight][self.anim_kind]

    @property
    def anim_t(self) -> int | None:
        """The step whose backward the animation shows last, or None before the first backward step."""
        return None if self.anim_step == 0 else self.anim_length - self.anim_step


def step_run(run: bptt_lab.LongRangeRun, n: int) -> str:
    """Run ``n`` iterations of ``run``; '' on success, else why training stopped (a diverging loss)."""
    try:
        run.step(n)
    except ValueError as exc:
        return f"Training stopped: {exc}"
    return ""


def network(parts: set[str], config: bptt_lab.LabConfig, configs: dict, per_tick: int) -> dict:
    """The parts asked for (``"compare"``: comparison and spectra of every cell; ``"run"``: a new training run).

    A pure function of its frozen configs (a worker thread may run it); a ValueError becomes ``{"error": text}``.
    """
    out: dict = {}
    try:
        if "compare" in parts:
            out["compare"] = bptt_lab.compare_cells(config)
            out["spectra"] = {k: bptt_lab.spectrum(bptt_lab.init_params(configs[k]), configs[k]) for k in KINDS}
        out["run"] = bptt_lab.LongRangeRun(config, jacobian_every=per_tick)
    except ValueError as exc:
        return {"error": str(exc)}
    return out
