"""A grammar of perturbations: suspects generated from the places in a reference loop where a student can slip.

A hand-written suspect list names only the bugs its author thought of. A :class:`Grammar` instead describes a
reference computation as a *program* with named *sites* (which inputs a step reads, where a state comes from, what
is carried, how a sum is reduced, in which order results are stored, ...) and, for each site, the values a student
can put there instead of the right one (an :class:`Option`: drop a term, the wrong operand, the wrong axis or
reduction, a reset instead of a carry, an off-by-one index, a reversed range). Every single-site deviation is a
suspect (``grammar.suspects()``), and, as a second tier, every pair of deviations at two different sites
(``grammar.suspects(pairs=True)``): a bug nobody listed is named as long as it is one slip at one site of the graph.

``program(case, choice)`` runs the reference's own step functions (``simulator.cells``, ``simulator.architectures``)
chained as ``choice`` says (``{site name: option value}``; a site left out takes its right value), so no suspect
re-derives the correct math (DESIGN invariant 1), and returns the outputs under that choice, or None when the choice
cannot be expressed on the case's shapes (a skipped step of a one-step sequence).

A suspect alone never names a bug: ``autograder.sequence_probes.diagnose`` names it only if it reproduces the
student's return on the failing case *and*, when the check gives a probe case, on a grader-chosen probe case where
it differs from the reference (DESIGN invariants 7-9: one student call, compared with grader-computed values).

Not covered: slips that are not a choice at a listed site (a wrong constant inside a step function is the step
catalogue's, lifted by ``bptt_checks.step_bug_suspects``), three or more slips at once, and sites whose options
give the same result on every case (named together, "it matches equally if").
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

from autograder.sequence_probes import Suspect


@dataclass(frozen=True)
class Option:
    """One wrong value a student can put at a site: ``value`` for the program, ``bug`` its class, ``phrase``
    completing "your result matches the reference if ...".
    """

    value: object
    bug: str
    phrase: str


@dataclass(frozen=True)
class Site:
    """A place in the reference's computation graph: ``line`` is the equation line to check there."""

    name: str
    line: str
    options: tuple[Option, ...]


@dataclass(frozen=True)
class Grammar:
    """A reference program with its sites; ``program(case, choice) -> outputs | None``."""

    sites: tuple[Site, ...]
    program: Callable[[dict, dict], dict | None]

    def suspects(self, pairs: bool = False) -> list[Suspect]:
        """One suspect per single-site deviation, then (``pairs``) per deviation at two different sites."""
        singles = [(s, o) for s in self.sites for o in s.options]
        out = [Suspect(o.bug, o.phrase, self._run({s.name: o.value}), line=s.line) for s, o in singles]
        if pairs:
            for (s1, o1), (s2, o2) in itertools.combinations(singles, 2):
                if s1.name != s2.name:
                    out.append(Suspect(f"{o1.bug} and {o2.bug}", f"{o1.phrase}, and {o2.phrase}",
                                       self._run({s1.name: o1.value, s2.name: o2.value}),
                                       line=s1.line if s1.line == s2.line else f"{s1.line}; and {s2.line}",
                                       slips=2))
        return out

    def _run(self, choice: dict) -> Callable[[dict], dict | None]:
        def outputs(case: dict) -> dict | None:
            try:
                return self.program(case, choice)
            except (ValueError, IndexError, ZeroDivisionError):
                return None  # this choice cannot be expressed on the case's shapes

        return outputs


def options(*triples: tuple[object, str, str]) -> tuple[Option, ...]:
    """``options((value, bug, phrase), ...)`` -> a tuple of :class:`Option`."""
    return tuple(Option(*t) for t in triples)
