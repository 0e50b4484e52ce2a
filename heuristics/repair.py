"""The one repair loop of the capacitated heuristics (greedy routing, DINA's greedy matching).

A heuristic places one job at a time on residual capacities. Its candidate (a layered path, a
segment-to-node assignment) is chosen arc by arc, so a candidate that uses one resource several
times (two layers on one node, one link in two copies) can overload it in sum. The repair:

    (R1) find the cheapest candidate under the current prices mu_r (cost of an arc or segment
         + mu_r x its load on r) with the forbidden parts removed;
    (R2) if its summed loads fit the residuals, it is placed;
    (R3) else every overloaded resource r gets mu_r = max(4 mu_r, floor_r) (``floor_r``: the
         candidate's latency per unit of residual or capacity of r, chosen by the heuristic),
         and (R1) is repeated; after ``PRICE_ROUNDS`` rounds without a fitting candidate the
         heuristic's culprit (the most overloaded resource, or the part loading it most) is
         forbidden and the prices reset.

Prices are keyed by resource index r: node n is r = n, link a is r = |N| + a (as in F3's load
rows). The loop ends when the candidate fits or none is left (the job cannot be placed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Generic, Hashable, Iterable, TypeVar

C = TypeVar("C")

PRICE_ROUNDS = 24  # price increases before a culprit is forbidden outright
PRICE_GROWTH = 4.0


@dataclass(frozen=True)
class Overload:
    """What does not fit: (resource, price floor) pairs, and what to forbid if prices fail."""

    prices: Iterable[tuple[int, float]]
    culprit: Hashable


@dataclass
class Repaired(Generic[C]):
    candidate: C | None  # None: no candidate fits
    repairs: int  # (R1) recomputations after the first


def price_repair(find: Callable[[dict[int, float], set], C | None],
                 overload: Callable[[C], Overload | None], *,
                 forbidden: set | None = None) -> Repaired[C]:
    """Run (R1)-(R3): ``find(prices, forbidden)`` gives a candidate or None, ``overload`` says
    whether it fits (None) or what is over capacity."""
    prices: dict[int, float] = {}
    forbidden = set() if forbidden is None else forbidden
    repairs = 0
    while True:
        candidate = find(prices, forbidden)
        if candidate is None:
            return Repaired(None, repairs)
        over = overload(candidate)
        if over is None:
            return Repaired(candidate, repairs)
        repairs += 1
        if repairs % PRICE_ROUNDS:  # (R3): raise the price of every overloaded resource
            for r, floor in over.prices:
                prices[r] = max(PRICE_GROWTH * prices.get(r, 0.0), floor)
            continue
        forbidden.add(over.culprit)  # prices did not help: forbid, and start the prices again
        prices.clear()
