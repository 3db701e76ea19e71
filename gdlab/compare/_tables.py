"""Result rows as Markdown and CSV: medians with [q25, q75]; "never" for failures."""

import csv
import io
import math
from collections.abc import Sequence

COLUMNS = ("bench", "optimizer", "tuned setting", "reached", "diverged", "final f − f*",
           "steps to target", "evals to target", "evals/step", "s/run")

CSV_FIELDS = ("bench", "optimizer", "hyperparameters", "configs_tried", "tuning_diverged",
              "seeds", "reached", "diverged", "target", "final_gap_median", "final_gap_q25",
              "final_gap_q75", "steps_to_target_median", "steps_to_target_q25",
              "steps_to_target_q75", "evals_to_target_median", "evals_to_target_q25",
              "evals_to_target_q75", "evals_per_step", "seconds_per_run")


def number(x, digits: int = 3) -> str:
    """A short string for a table cell: None -> "–", +inf -> "never"."""
    if x is None:
        return "–"
    x = float(x)
    if not math.isfinite(x):
        return "never" if x > 0 else "–"
    if x == int(x) and abs(x) < 1e6:
        return str(int(x))
    if abs(x) >= 1e4 or abs(x) < 1e-2:
        return f"{x:.{digits - 1}e}"
    return f"{x:.{digits}g}"


def _spread(row: dict, key: str) -> str:
    """median [q25, q75]; a stored result has None where a quantile was a failure (+inf)."""
    median, q25, q75 = (math.inf if v is None else v
                        for v in (row.get(f"{key}_{q}") for q in ("median", "q25", "q75")))
    if not math.isfinite(median):
        return "never"
    return f"{number(median)} [{number(q25)}, {number(q75)}]"


def cells(row: dict) -> list[str]:
    """A row as the strings of ``COLUMNS``."""
    setting = ", ".join(f"{k.replace('learning_rate', 'η')}={number(v, 3)}"
                        for k, v in row["hyperparameters"].items())
    return [row["bench"], row["optimizer"], setting, f"{row['reached']}/{row['seeds']}",
            str(row["diverged"]), _spread(row, "final_gap"), _spread(row, "steps_to_target"),
            _spread(row, "evals_to_target"), number(row["evals_per_step"]),
            number(row["seconds_per_run"])]


CI_COLUMNS = ("bench", "optimizer", "track", "setting", "reached", "evals to target [95% CI]",
              "steps to target [95% CI]", "final f − f* [95% CI]", "tuning: trials, evals, s",
              "s/run", "notes")


def _ci(row: dict, key: str) -> str:
    """median [lo, hi] of a bootstrap interval; "never" where the median failed."""
    median = row.get(f"{key}_median")
    if median is None:
        return "–"
    if not math.isfinite(median):
        return "never"
    hi = row.get(f"{key}_hi")
    return f"{number(median)} [{number(row.get(f'{key}_lo'))}, " \
           f"{'never' if hi is None or not math.isfinite(hi) else number(hi)}]"


def ci_cells(row: dict) -> list[str]:
    """A protocol row (``gdlab.compare.rows``) as the strings of ``CI_COLUMNS``."""
    setting = ", ".join(f"{k.replace('learning_rate', 'η')}={number(v, 3)}"
                        for k, v in row["hyperparameters"].items()) or "–"
    tuning = "–" if not row.get("configs_tried") else (
        f"{row['configs_tried']}, {number(row.get('tuning_evaluations'))}, "
        f"{number(row.get('tuning_seconds'))}")
    notes = []
    if row.get("edge"):
        notes.append(f"EDGE: {row['edge']}")
    if not row.get("optax", True):
        notes.append("not optax")
    if row.get("effective_lr") is not None and row.get("lr_free"):
        notes.append(f"effective η ≈ {number(row['effective_lr'])}")
    if row.get("diverged"):
        notes.append(f"{row['diverged']} diverged")
    return [row["bench"], row["optimizer"], row.get("track", "tuned"), setting,
            f"{row['reached']}/{row['seeds']}", _ci(row, "evals_to_target"),
            _ci(row, "steps_to_target"), _ci(row, "final_gap"), tuning,
            number(row.get("seconds_per_run")), "; ".join(notes)]


def ci_markdown_table(rows: Sequence[dict]) -> str:
    """Protocol rows as a Markdown table with bootstrap-interval columns."""
    lines = ["| " + " | ".join(CI_COLUMNS) + " |", "|" + "---|" * len(CI_COLUMNS)]
    lines += ["| " + " | ".join(ci_cells(r)) + " |" for r in rows]
    return "\n".join(lines) + "\n"


CI_FIELDS = ("bench", "optimizer", "track", "hyperparameters", "configs_tried",
             "tuning_evaluations", "tuning_seconds", "seeds", "reached", "diverged", "target",
             *(f"{k}_{q}" for k in ("evals_to_target", "steps_to_target", "final_gap")
               for q in ("median", "lo", "hi")),
             "evals_per_step", "seconds_per_run", "edge", "effective_lr", "optax")


def ci_csv_table(rows: Sequence[dict]) -> str:
    """Protocol rows as CSV ("inf" for failures, empty where not measured)."""
    return _csv(rows, CI_FIELDS, ("_median", "_lo", "_hi"))


def markdown_table(rows: Sequence[dict]) -> str:
    """Rows as a Markdown table."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(cells(r)) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def csv_table(rows: Sequence[dict]) -> str:
    """Rows as CSV with full-precision numbers ("inf" for failures, empty if not measured)."""
    return _csv(rows, CSV_FIELDS, ("_median", "_q25", "_q75"))


def _csv(rows: Sequence[dict], fields: Sequence[str], quantiles: tuple[str, ...]) -> str:
    """CSV of ``fields``; a missing quantile (``*_median`` …) is a failure, written "inf"."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fields, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        values = dict(row)
        values["hyperparameters"] = ";".join(f"{k}={v:g}" for k, v in
                                             row["hyperparameters"].items())
        for key in fields:
            if values.get(key) is None:
                values[key] = "inf" if key.endswith(quantiles) else ""
        writer.writerow(values)
    return out.getvalue()
