"""Checks for the ``architectures`` exercise: the forward passes of the five architectures on any cell.

A student's ``<name>_forward`` is called as the reference ``simulator.architectures.<name>_forward`` is
with positional arguments only: ``(x, params, step)``, ``(x, params, T, step)``, ``(X, params, step)`` or
``(X, params, T_out, step)``, where ``step`` is the reference step function of an RNN, LSTM or GRU.
Outputs feed back as ``one_hot(argmax y_{t-1})``; the decoder starts from a zero input.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from autograder import architecture_grammar
from autograder import cases as case_sets
from autograder.architecture_diagnosis import probes, raise_finding, suspects
from autograder.calling import call, ok
from autograder.cell_checks import graded_with_large, overflow, raised_text
from autograder.channel import ChannelClosedError, ChannelTimeoutError, ProtocolError
from autograder.compare import Layout, describe_mismatch, tolerance_text
from autograder.hypotheses import Hypothesis
from autograder.layout_diagnosis import layout_suspects
from autograder.precision_diagnosis import as_array, diagnose
from autograder.sequence_probes import Confirmation, layout_probe, loose_array, wrong_shape
from autograder.values import as_tuple, fail
from simulator import architectures, cells

OUTPUTS = Layout(("batch", "output"))
TIMED_OUTPUTS = Layout(("batch", "t", "output"), time_axis=1)

# name -> (input is a sequence, takes a length, output has a time axis)
SIGNATURES = {"one_to_one": (False, False, False), "one_to_many": (False, True, True),
              "many_to_one": (True, False, False), "many_to_many": (True, False, True),
              "encoder_decoder": (True, True, True)}
VISIBLE = [("rnn", 2, 3, 3, 4, 3), ("lstm", 1, 4, 2, 3, 2)]  # kind, B, T, D, H, K


def _hidden_shapes() -> list[tuple]:
    """Random (kind, B, T, D, H, K) from the hidden-case secret: every kind, the first case all ones, sizes 1 .. 5."""
    rng = case_sets.hidden_rng("architecture shapes", 0)
    kinds = ("rnn", "gru", "lstm", "lstm", "gru")
    out = [("rnn", 1, 1, 1, 1, 1)]
    for kind in kinds[1:]:
        out.append((kind, *(int(v) for v in rng.integers(1, 6, size=5))))
    return out


def _cases(name: str, hidden: bool) -> list[dict]:
    seq, length, _ = SIGNATURES[name]
    out = []
    for k, (kind, B, T, D, H, K) in enumerate(_hidden_shapes() if hidden else VISIBLE):
        if name == "one_to_many":
            D = K  # outputs are fed back as inputs
        rng = case_sets.hidden_rng("architectures", k) if hidden else np.random.default_rng(11 + 31 * k)
        params = case_sets.random_params(kind, D, H, rng)
        if name == "encoder_decoder":
            params.update({f"{architectures.DECODER_PREFIX}{n}": v
                           for n, v in case_sets.random_params(kind, K, H, rng).items()})
        params["W_hy"] = rng.standard_normal((H, K))
        params["b_y"] = rng.standard_normal(K)
        x = rng.standard_normal((B, T, D) if seq else (B, D))
        args = (x, params, T + 1 if name == "encoder_decoder" else T) if length else (x, params)
        out.append({"label": f"{kind} cell, B={B}, T={T}, D={D}, H={H}, K={K}", "kind": kind, "args": args})
    return out


def large_cases(name: str, hidden: bool) -> list[dict]:
    """One case of ``name`` per cell kind (RNN, LSTM, GRU) whose cell pre-activations are large
    (``cases.LARGE_REACH``): a sequence input is scaled step by step (``cases.large_steps``, rows in pairs of
    opposite sign); a cell fed its one-hot outputs (one_to_many, the decoder) has its input weight scaled so that
    one-hot inputs reach it too. A tanh, sigmoid or exp written by hand (a student's own cell instead of ``step``)
    overflows there; ``np.tanh`` and the reference steps do not. Visible: B=2, T=3, D=3, H=4, K=3; hidden: sizes
    from the secret (hidden stream ``"large architecture cases"``).
    """
    return [_large_case(name, kind, hidden, k) for k, kind in enumerate(("rnn", "lstm", "gru"))]


def _large_case(name: str, kind: str, hidden: bool, k: int) -> dict:
    seq, length, _ = SIGNATURES[name]
    rng = case_sets.hidden_rng("large architecture cases", k) if hidden else np.random.default_rng(4_713 + k)
    pairs, T, D, H, K = case_sets.large_sizes(rng, hidden, (1, 3, 3, 4, 3), 4)
    B = 2 * pairs
    if name == "one_to_many":
        D = K  # outputs are fed back as inputs
    w = case_sets.input_weight(kind)
    params = case_sets.random_params(kind, D, H, rng)
    x = case_sets.paired(rng, pairs, T, D) if seq else case_sets.paired(rng, pairs, D)
    if name == "one_to_many":  # x at step 0, one-hot feedback after: both must reach
        seen = np.concatenate([x, np.eye(K)])
        params[w] = params[w] * (case_sets.LARGE_REACH / max(case_sets.block_reach(seen, params[w], H), 1e-12))
    else:
        x = case_sets.large_steps(x if seq else x[:, None], params[w], H)  # (B, T, D), or (B, 1, D) for one x
        x = x if seq else x[:, 0]
    if name == "encoder_decoder":
        dec = case_sets.random_params(kind, K, H, rng)
        dec[w] = dec[w] * (case_sets.LARGE_REACH / max(case_sets.block_reach(np.eye(K), dec[w], H), 1e-12))
        params.update({f"{architectures.DECODER_PREFIX}{n}": v for n, v in dec.items()})
    params["W_hy"] = rng.standard_normal((H, K))
    params["b_y"] = rng.standard_normal(K)
    args = (x, params, T + 1 if name == "encoder_decoder" else T) if length else (x, params)
    note = "" if hidden else f", large pre-activations: |a| >= {case_sets.LARGE_REACH:g}"
    return {"label": f"{kind} cell, B={B}, T={T}, D={D}, H={H}, K={K}{note}", "kind": kind, "args": args,
            "large": True}


def _step(case: dict) -> Callable:
    return cells.STEP_FUNCTIONS[case["kind"]][0]


def _reference(name: str, case: dict, **options) -> np.ndarray:
    return architectures.FORWARD[name](*case["args"], _step(case), **options)[0]


def _with(case: dict, **changes) -> dict:
    args = list(case["args"])
    args[1] = {**args[1], **changes}
    return {**case, "args": tuple(args)}


def _readout(case: dict, H: np.ndarray) -> np.ndarray:
    p = case["args"][1]
    return H @ p["W_hy"] + p["b_y"]


def _states(name: str, case: dict) -> np.ndarray:
    return architectures.FORWARD[name](*case["args"], _step(case))[1]["H"]  # (B, S, H)


def hypotheses(name: str) -> list[Hypothesis]:
    """What each architecture returns under its common bugs (see ``autograder.hypotheses``)."""
    zero_b = Hypothesis("bias dropped", "the readout bias b_y is left out",
                        lambda c: {"Y": _reference(name, _with(c, b_y=np.zeros_like(c["args"][1]["b_y"])))})
    extra = {
        "many_to_one": [Hypothesis("wrong state read", "y is read from the first state instead of the last",
                                   lambda c: {"Y": _readout(c, _states(name, c)[:, 0])})],
        "many_to_many": [Hypothesis("off by one step", "Y[:, t] is read from the state before step t",
                                    lambda c: {"Y": _readout(c, np.concatenate(
                                        [np.zeros_like(_states(name, c)[:, :1]), _states(name, c)[:, :-1]],
                                        axis=1))})],
        "one_to_many": [
            Hypothesis("feedback missing", "steps t >= 1 read zeros instead of one_hot(argmax y_{t-1})",
                       lambda c: {"Y": _reference(name, c, feedback="none")}),
            Hypothesis("wrong feedback", "softmax(y_{t-1}) is fed back instead of one_hot(argmax y_{t-1})",
                       lambda c: {"Y": _reference(name, c, feedback="softmax")}),
            Hypothesis("wrong feedback", "y_{t-1} itself is fed back instead of one_hot(argmax y_{t-1})",
                       lambda c: {"Y": _reference(name, c, feedback="identity")}),
            Hypothesis("input repeated", "x is fed at every step: the outputs are not fed back (step t >= 1 "
                       "reads x instead of one_hot_argmax(y_{t-1}))",
                       lambda c: {"Y": architectures.many_to_many_forward(
                           np.repeat(c["args"][0][:, None], c["args"][2], axis=1), c["args"][1], _step(c))[0]}),
        ],
        "encoder_decoder": [
            Hypothesis("state not passed", "the decoder starts from zeros instead of the encoder's final state",
                       lambda c: {"Y": _decoder_alone(c)}),
            Hypothesis("feedback missing", "decoder steps t >= 1 read zeros instead of one_hot(argmax y_{t-1})",
                       lambda c: {"Y": _reference(name, c, feedback="none")}),
            Hypothesis("wrong parameters", "the decoder uses the encoder's parameters instead of the dec_ ones",
                       lambda c: {"Y": _reference(name, _with(c, **_encoder_as_decoder(c)))}
                       if _encoder_as_decoder(c) else None),
            Hypothesis("wrong encoder state passed", "the decoder starts from the encoder's state after its first "
                       "step (step 0) instead of its final state (after step T-1)", lambda c: _passed_after(c, 0)),
            Hypothesis("wrong encoder state passed", "the decoder starts from the encoder's state one step before "
                       "the end (after step T-2: the encoder loop stops one step early) instead of its final state",
                       lambda c: _passed_after(c, c["args"][0].shape[1] - 2)),
        ],
    }
    return [zero_b, *extra.get(name, []), *suspects(name)]


def _passed_after(case: dict, k: int) -> dict | None:
    """The reference encoder-decoder whose encoder stops after step ``k`` (its state then is what is passed on);
    None unless ``0 <= k < T-1``.
    """
    X = case["args"][0]
    if not 0 <= k < X.shape[1] - 1:
        return None
    return {"Y": _reference("encoder_decoder", {**case, "args": (X[:, :k + 1].copy(), *case["args"][1:])})}


def _decoder_alone(case: dict) -> np.ndarray:
    p = case["args"][1]
    prefix = architectures.DECODER_PREFIX
    dec = {k[len(prefix):]: v for k, v in p.items() if k.startswith(prefix)}
    B = case["args"][0].shape[0]
    K = p["W_hy"].shape[1]
    return architectures.one_to_many_forward(np.zeros((B, K)), {**dec, "W_hy": p["W_hy"], "b_y": p["b_y"]},
                                             case["args"][2], _step(case))[0]


def _encoder_as_decoder(case: dict) -> dict | None:
    p = case["args"][1]
    prefix = architectures.DECODER_PREFIX
    dec = {k: p[k[len(prefix):]] for k in p if k.startswith(prefix)}
    return dec if all(v.shape == p[k].shape for k, v in dec.items()) else None


def check_architecture(name: str, fn: Callable, hidden: bool = False) -> None:
    """Does the student's ``<name>_forward`` return the reference's ``Y`` for RNN, LSTM and GRU cells?"""
    if name not in SIGNATURES:
        raise ValueError(f"name: got {name!r}; expected one of {tuple(SIGNATURES)}")
    fname = f"{name}_forward"
    cases = _cases(name, hidden)
    def reference(c):
        return {"Y": _reference(name, c)}

    axes = ("batch", "t", "output") if SIGNATURES[name][2] else ("batch", "output")
    hyps = [*hypotheses(name), *architecture_grammar.grammar_suspects(name), *layout_suspects("Y", reference, axes)]

    for head, case in graded_with_large(fname, cases, large_cases(name, hidden), hidden):
        expected = _reference(name, case)
        Y = _student_Y_or_raised(name, fn, case, head)
        if case.get("large"):
            overflow(Y, expected, case, f"{fname}: Y", who=fname, head=head)
        confirm = Confirmation(architecture_grammar.probe_case(name, case["kind"]),
                               lambda c: {"Y": loose_array(_student_Y(name, fn, c))},
                               (architecture_grammar.probe_case(name, case["kind"], (2, 5, 3, 4, 2), 1, 3),))
        if (odd := wrong_shape(Y, expected.shape)) is not None:
            names = ("batch", "t", "output") if SIGNATURES[name][2] else ("batch", "output")
            message = diagnose(head, [f"Y has shape {odd.shape}, expected {expected.shape}"], {"Y": odd}, case, hyps,
                               [layout_probe("Y", lambda c: _reference(name, c), names)], confirm=confirm,
                               reference=reference)
            if "likely bug" in message:
                fail(message)
        got = {"Y": as_array(Y, f"{fname}: Y", expected.shape)}
        layout = TIMED_OUTPUTS if SIGNATURES[name][2] else OUTPUTS
        problem = describe_mismatch("Y", expected, got["Y"], layout)
        if problem:
            fail(diagnose(head, [problem], got, case, hyps, probes(name, lambda c: _student_array(name, fn, c)),
                          confirm=confirm, reference=reference))
    ok(f"{fname} matches the reference on {len(cases)} {'hidden' if hidden else 'visible'} cases "
       f"(RNN, LSTM{', GRU' if hidden else ''} cells) and 3 with large pre-activations "
       f"(RNN, LSTM, GRU cells; {tolerance_text()})")


def _student_array(name: str, fn: Callable, case: dict) -> np.ndarray:
    """The student's Y on a probe case, read strictly (a probe that cannot read it says nothing)."""
    return as_array(_student_Y(name, fn, case), f"{name}_forward: Y", _reference(name, case).shape)


def _student_Y_or_raised(name: str, fn: Callable, case: dict, head: str):
    """The student's Y on a graded case; if the student's code raises, fail with the error and, when the sizes
    under which it runs explain it, which sizes it confuses (``architecture_diagnosis.raise_finding``).
    """
    try:
        return _student_Y(name, fn, case)
    except (AssertionError, ChannelClosedError, ChannelTimeoutError, ProtocolError):
        raise
    except Exception as exc:  # noqa: BLE001 - any failure of student code is reported, not propagated
        text = f"{head}: {raised_text(name + '_forward', exc)}"
        finding = raise_finding(name, case["kind"], lambda c: _student_array(name, fn, c))
        if finding is not None:
            text += (f". Probably {finding.cause} (likely bug: {finding.bug}); check {finding.line}. "
                     f"Evidence: {finding.evidence}")
        fail(text)


def _student_Y(name: str, fn: Callable, case: dict):
    fname = f"{name}_forward"
    names = ("X" if SIGNATURES[name][0] else "x", "params", "T_out" if name == "encoder_decoder" else "T")
    out = call(fn, fname, case["args"], tail=(_step(case),), names=names[: len(case["args"])])
    Y, _ = as_tuple(out, 2, f"{fname} returned", "Y, cache")
    return Y


def check_one_to_one_forward(one_to_one_forward: Callable, hidden: bool = False) -> None:
    """Does ``one_to_one_forward(x, params, step)`` return the reference ``(y, cache)``?"""
    check_architecture("one_to_one", one_to_one_forward, hidden)


def check_one_to_many_forward(one_to_many_forward: Callable, hidden: bool = False) -> None:
    """Does ``one_to_many_forward(x, params, T, step)`` return the reference ``(Y, cache)``?"""
    check_architecture("one_to_many", one_to_many_forward, hidden)


def check_many_to_one_forward(many_to_one_forward: Callable, hidden: bool = False) -> None:
    """Does ``many_to_one_forward(X, params, step)`` return the reference ``(y, cache)``?"""
    check_architecture("many_to_one", many_to_one_forward, hidden)


def check_many_to_many_forward(many_to_many_forward: Callable, hidden: bool = False) -> None:
    """Does ``many_to_many_forward(X, params, step)`` return the reference ``(Y, cache)``?"""
    check_architecture("many_to_many", many_to_many_forward, hidden)


def check_encoder_decoder_forward(encoder_decoder_forward: Callable, hidden: bool = False) -> None:
    """Does ``encoder_decoder_forward(X, params, T_out, step)`` return the reference ``(Y, cache)``?"""
    check_architecture("encoder_decoder", encoder_decoder_forward, hidden)

