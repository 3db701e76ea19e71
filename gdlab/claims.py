"""Claims: an experiment's findings as data, stored with the numbers that back them.

Each experiment's ``claims(result)`` returns a list of claims built with the functions
below. A claim is a plain dict (it goes straight into ``result.json``)::

    statement   one line, what is claimed
    measured    the measured value (a number, or the median over seeds)
    expected    the expected value or the bound, as text ("= 2/η", "< 1e-12", "≥ 5/5 seeds")
    tolerance   the tolerance of a comparison with an exact value (None for a bound)
    seeds       what it was measured over: a list of seeds/starts, or None for one
                deterministic computation
    spread      for claims over seeds: {"min", "q25", "median", "q75", "max"}
    held_for    for claims over seeds: "k/n" seeds for which the claim holds on its own
    holds       bool

A claim about seeds holds when its median holds (and, with ``require=``, for at least
that many seeds). Non-finite measurements never hold a numeric claim: a NaN is a failed
measurement, not a pass.

>>> c = close("GD's rate is (κ−1)/(κ+1)", 0.8181818, 9 / 11, rtol=1e-6)
>>> c["holds"], c["expected"]
(True, '= 0.818182 (rtol 1e-06)')
>>> below("the error vanishes", 3e-16, 1e-12)["holds"]
True
>>> c = over_seeds("Adam trains depth 6", [0.1, 0.2, 0.9, 0.05, 0.3], upper=0.5, seeds=range(5))
>>> c["holds"], c["held_for"], c["measured"]
(True, '4/5', 0.2)
>>> summary([c, below("x", 2.0, 1.0)])
'claims: 1/2 hold'
"""

import math
from collections.abc import Iterable, Sequence

import numpy as np

__all__ = ["above", "below", "between", "close", "fact", "failed", "markdown", "over_seeds",
           "summary"]


def _number(value) -> float | None:
    """A finite float, or None for NaN/inf/None (never a pass)."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _seeds(seeds) -> list | None:
    return None if seeds is None else [int(s) for s in seeds]


def _claim(statement: str, measured, expected: str, holds: bool, *, tolerance=None,
           seeds=None, **extra) -> dict:
    if not statement or not isinstance(statement, str):
        raise ValueError("a claim needs a one-line statement")
    return {"statement": statement, "measured": measured, "expected": expected,
            "tolerance": tolerance, "seeds": _seeds(seeds), **extra, "holds": bool(holds)}


def close(statement: str, measured, expected: float, *, rtol: float = 0.0, atol: float = 0.0,
          seeds=None) -> dict:
    """``|measured − expected| ≤ atol + rtol·|expected|``."""
    m = _number(measured)
    holds = m is not None and abs(m - expected) <= atol + rtol * abs(expected)
    tol = " ".join(t for t in (f"rtol {rtol:g}" if rtol else "", f"atol {atol:g}" if atol else "")
                   if t) or "exact"
    return _claim(statement, m, f"= {expected:.6g} ({tol})", holds,
                  tolerance={"rtol": rtol, "atol": atol}, seeds=seeds)


def below(statement: str, measured, bound: float, *, strict: bool = True, seeds=None) -> dict:
    """``measured < bound`` (``≤`` with ``strict=False``)."""
    m = _number(measured)
    holds = m is not None and (m < bound if strict else m <= bound)
    return _claim(statement, m, f"{'<' if strict else '≤'} {bound:.6g}", holds, seeds=seeds)


def above(statement: str, measured, bound: float, *, strict: bool = True, seeds=None) -> dict:
    """``measured > bound`` (``≥`` with ``strict=False``)."""
    m = _number(measured)
    holds = m is not None and (m > bound if strict else m >= bound)
    return _claim(statement, m, f"{'>' if strict else '≥'} {bound:.6g}", holds, seeds=seeds)


def between(statement: str, measured, lower: float, upper: float, *, seeds=None) -> dict:
    """``lower ≤ measured ≤ upper``."""
    m = _number(measured)
    holds = m is not None and lower <= m <= upper
    return _claim(statement, m, f"in [{lower:.6g}, {upper:.6g}]", holds, seeds=seeds)


def fact(statement: str, measured, expected: str, holds: bool, *, seeds=None) -> dict:
    """A claim whose test is not a single comparison (a count, a bracket, an ordering):
    the caller states what was expected as text and whether it held."""
    return _claim(statement, measured, expected, holds, seeds=seeds)


def over_seeds(statement: str, values: Sequence, *, lower: float | None = None,
               upper: float | None = None, strict: bool = True, seeds: Iterable | None = None,
               require: int | None = None) -> dict:
    """A claim over seeds: the median of ``values`` lies above ``lower`` and/or below
    ``upper``; ``held_for`` counts the seeds whose own value does.

    Non-finite values (a diverged run, a target never reached) count as failing seeds and
    enter the median as +inf (so a majority of failures makes the median fail too).
    ``require`` additionally demands that many seeds hold.
    """
    if lower is None and upper is None:
        raise ValueError("over_seeds needs a lower and/or an upper bound")
    raw = np.asarray(values, dtype=float).ravel()
    if raw.size == 0:
        raise ValueError(f"{statement!r}: no values")
    values = np.where(np.isfinite(raw), raw, np.inf)

    def ok(v):
        return np.isfinite(v) & _inside(v, lower, upper, strict)

    median = float(np.median(values))
    held = int(np.sum(ok(values)))
    holds = bool(ok(np.float64(median))) and (require is None or held >= require)
    with np.errstate(invalid="ignore"):  # inf − inf between failed seeds: NaN, shown n/a
        quantiles = np.quantile(values, [0, 0.25, 0.5, 0.75, 1.0])
    spread = {k: _number(q) for k, q in zip(("min", "q25", "median", "q75", "max"), quantiles,
                                            strict=True)}
    parts = [f"{'>' if strict else '≥'} {lower:.6g}" if lower is not None else "",
             f"{'<' if strict else '≤'} {upper:.6g}" if upper is not None else ""]
    expected = "median " + " and ".join(p for p in parts if p)
    if require is not None:
        expected += f", for ≥ {require}/{values.size} seeds"
    seeds = list(range(values.size)) if seeds is None else list(seeds)
    if len(seeds) != values.size:
        raise ValueError(f"{statement!r}: {values.size} values but {len(seeds)} seeds")
    return _claim(statement, _number(median), expected, holds, seeds=seeds, spread=spread,
                  held_for=f"{held}/{values.size}")


def _inside(v, lower, upper, strict):
    inside = np.ones_like(v, dtype=bool)
    with np.errstate(invalid="ignore"):
        if lower is not None:
            inside &= (v > lower) if strict else (v >= lower)
        if upper is not None:
            inside &= (v < upper) if strict else (v <= upper)
    return inside


def failed(claims: Sequence[dict]) -> list[dict]:
    """The claims that do not hold."""
    return [c for c in claims if not c.get("holds")]


def summary(claims: Sequence[dict]) -> str:
    """``"claims: k/n hold"``."""
    return f"claims: {len(claims) - len(failed(claims))}/{len(claims)} hold"


def _show(value) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list) and len(value) > 6:
        return f"[{len(value)} values]"
    return str(value)


def _seeds_text(claim: dict) -> str:
    seeds = claim.get("seeds")
    if not seeds:
        return "—"
    held = claim.get("held_for")
    if len(seeds) > 2:
        text = f"{len(seeds)} ({seeds[0]}…{seeds[-1]})"
    else:
        text = ", ".join(map(str, seeds))
    return f"{text}; holds for {held}" if held else text


def markdown(claims: Sequence[dict]) -> str:
    """The claims as a Markdown table: statement, measured (median [min, max] over
    seeds), expected, seeds, holds.

    >>> print(markdown([below("the error vanishes", 3e-16, 1e-12)]))
    | claim | measured | expected | seeds | holds |
    |---|---|---|---|---|
    | the error vanishes | 3e-16 | < 1e-12 | — | ✓ |
    """
    rows = ["| claim | measured | expected | seeds | holds |", "|---|---|---|---|---|"]
    for c in claims:
        measured = _show(c.get("measured"))
        spread = c.get("spread")
        if spread:
            measured += f" [{_show(spread.get('min'))}, {_show(spread.get('max'))}]"
        cells = [c["statement"], measured, c.get("expected", ""), _seeds_text(c),
                 "✓" if c.get("holds") else "✗ FAILS"]
        rows.append("| " + " | ".join(str(x).replace("|", "\\|") for x in cells) + " |")
    return "\n".join(rows)
