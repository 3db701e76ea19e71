"""HTML pages of the report site: the index, one page per experiment, the explorers.

Plain HTML with escaped text; figures are files next to the pages; the only script is
plotly's own bundle (shipped by the ``plotly`` package) and ``explorers.js``.
"""

import html
import json

from gdlab import claims as _claims

__all__ = ["EXPLORERS", "experiment_page", "explorer_page", "index_page", "page"]

e = html.escape

# explorer -> (title, the experiment whose claims it shows, its controls as HTML)
EXPLORERS = {
    "paths": ("Step size and momentum on a 2-D problem", "learning_rate", """
<div class="controls">
 <label for="problem">problem</label><select id="problem"></select><span></span>
 <label for="optimizer">optimizer</label><select id="optimizer"></select><span></span>
 <label for="rate">learning rate η</label><input type="range" id="rate">
 <span id="rate-value"></span>
 <span id="beta-row" style="display: contents"><label for="beta" id="beta-name">β</label>
 <input type="range" id="beta"><span id="beta-value"></span></span>
</div>
<div class="status" id="status"></div>
<div id="path-plot" class="plot"></div>
<div id="loss-plot" class="plot" style="height: 320px"></div>"""),
    "neuron": ("The weight update of seed 000", "weight_update", """
<div class="controls">
 <label for="input">input</label><input type="range" id="input"><span id="input-value"></span>
 <label for="goal">goal</label><input type="range" id="goal"><span id="goal-value"></span>
 <label for="alpha">α</label><input type="range" id="alpha"><span id="alpha-value"></span>
</div>
<div class="status" id="status"></div>
<div id="error-plot" class="plot" style="height: 360px"></div>
<div id="map-plot" class="plot" style="height: 360px"></div>"""),
    "depth": ("Depth and initialisation", "vanishing_gradients", """
<div class="controls">
 <label for="activation">activation</label><select id="activation"></select><span></span>
 <label for="init">initialisation</label><select id="init"></select><span></span>
 <label for="depth">depth</label><input type="range" id="depth"><span id="depth-value"></span>
</div>
<div class="status" id="status"></div>
<div id="depth-plot" class="plot"></div>"""),
    "taylor": ("Taylor along a step", "taylor_step", """
<div class="controls">
 <label for="eps">step size ε</label><input type="range" id="eps"><span id="eps-value"></span>
</div>
<div class="status" id="status"></div>
<div id="taylor-plot" class="plot"></div>"""),
}
EXPLAIN = {
    "paths": "Every path is a measured run of gdlab.train.sweep (float32, 60 steps): one "
             "compiled sweep per optimizer over every problem, learning rate and β. Nothing "
             "is computed in the browser.",
    "neuron": "pred = input · w from w₀ = 0.5, 20 iterations of w ← w − α (pred − goal) "
              "input, for every (input, goal, α) on the grid: one compiled sweep.",
    "depth": "The gradient norm of each layer's weights at initialisation (width 32, "
             "Gaussian inputs and targets, squared error): vanishing (sigmoid), kept "
             "(tanh/relu with a matching init), or exploding.",
    "taylor": "Along the negative gradient of a small tanh network (float64): the actual "
              "change of the loss, its first-order prediction −ε gᵀg and second-order "
              "prediction −ε gᵀg + ½ ε² gᵀHg (jax.hessian-vector product); ε* = gᵀg/gᵀHg "
              "minimises the second-order model.",
}


def page(title: str, body: str, *, scripts: tuple[str, ...] = (), explorer: str = "") -> str:
    head_scripts = "".join(f'<script src="{e(s)}"></script>' for s in scripts)
    data = f' data-explorer="{e(explorer)}"' if explorer else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{e(title)} · gdlab</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="style.css">{head_scripts}</head>
<body{data}><header><p><a href="index.html">gdlab results</a>
<a href="index.html#explorers">explorers</a></p></header>
{body}
</body></html>
"""


def claims_table(found: list[dict]) -> str:
    if not found:
        return "<p>This result states no claims.</p>"
    rows = []
    for c in found:
        measured = _claims._show(c.get("measured"))
        spread = c.get("spread")
        if spread:
            measured += f" [{_claims._show(spread.get('min'))}, {_claims._show(spread.get('max'))}]"
        verdict = ('<span class="holds">holds</span>' if c.get("holds")
                   else '<span class="fails">FAILS</span>')
        rows.append(f"<tr><td>{e(c['statement'])}</td><td>{e(measured)}</td>"
                    f"<td>{e(str(c.get('expected', '')))}</td>"
                    f"<td>{e(_claims._seeds_text(c))}</td><td>{verdict}</td></tr>")
    return ("<table class=\"claims\"><tr><th>claim</th><th>measured</th><th>expected</th>"
            "<th>seeds</th><th></th></tr>" + "".join(rows) + "</table>")


def _status(found) -> str:
    if found is None:
        return "not run"
    return _claims.summary(found).removeprefix("claims: ")


def _link(name: str, exists: bool) -> str:
    """A link to the experiment's page, or its bare name when it has no stored result."""
    return f'<a href="{e(name)}.html">{e(name)}</a>' if exists else e(name)


def index_page(experiments: list[dict], explorers: list[str], extra: list[dict]) -> str:
    rows = "".join(
        f'<tr><td>{_link(x["name"], x["claims"] is not None)}</td>'
        f'<td>{e(x["question"])}</td><td>{e(_status(x["claims"]))}</td></tr>'
        for x in experiments)
    cards = "".join(
        f'<div class="card"><a href="explore_{k}.html"><b>{e(EXPLORERS[k][0])}</b></a>'
        f"<p>{e(EXPLAIN[k])}</p></div>" for k in explorers)
    more = "".join(f'<li><a href="{e(x["href"])}">{e(x["title"])}</a></li>' for x in extra)
    body = f"""<h1>gdlab: what gradient descent does, measured</h1>
<p>Every number below was measured by the experiments in <code>experiments/</code> and is
stored with its claims in <code>results/&lt;name&gt;/result.json</code>. Rebuild this site
with <code>gdlab report</code>; rerun an experiment with <code>gdlab run NAME</code>.</p>
<h2>Experiments</h2>
<table><tr><th>experiment</th><th>the question / the claim</th><th>claims hold</th></tr>
{rows}</table>
<h2 id="explorers">Explorers</h2><div class="cards">{cards or "<p>(not built)</p>"}</div>
{"<h2>More results</h2><ul>" + more + "</ul>" if more else ""}"""
    return page("gdlab results", body)


def experiment_page(name: str, doc: str, result: dict, figures: list[str]) -> str:
    meta = result.get("meta", {})
    question = doc.strip().splitlines()[0] if doc.strip() else name
    rest = "\n".join(doc.strip().splitlines()[1:]).strip()
    images = "".join(f'<h3>{e(f)}</h3><img class="figure" src="{e(name)}/{e(f)}.png" '
                     f'alt="{e(name)}: {e(f)}">' for f in figures)
    config = "".join(f"<tr><td>{e(str(k))}</td><td>{e(json.dumps(v))}</td></tr>"
                     for k, v in result.get("config", {}).items())
    versions = ", ".join(f"{k} {v}" for k, v in meta.items()
                         if k in ("gdlab", "jax", "optax", "numpy", "python", "platform"))
    seconds = meta.get("seconds")
    body = f"""<h1>{e(name)}</h1>
<p class="question">{e(question)}</p>
<pre>{e(rest)}</pre>
<h2>Claims ({e(_status(result.get("claims") or []))})</h2>
{claims_table(result.get("claims") or [])}
<h2>Figures</h2>{images or "<p>(none)</p>"}
<h2>Reproduce</h2><pre>gdlab run {e(name)}</pre>
<p>Measured with {e(versions)}{f"; ran in {seconds:g} s" if seconds is not None else ""}.</p>
<h2>Configuration</h2><table><tr><th>field</th><th>value</th></tr>{config}</table>"""
    return page(name, body)


def explorer_page(kind: str, linked: dict | None) -> str:
    title, experiment, controls = EXPLORERS[kind]
    found = (linked or {}).get("claims") or []
    claims = claims_table(found[:4]) if linked else "<p>(the experiment has no stored result)</p>"
    body = f"""<h1>{e(title)}</h1><p>{e(EXPLAIN[kind])}</p>{controls}
<h2>What the experiment claims ({_link(experiment, linked is not None)})</h2>{claims}"""
    return page(title, body, explorer=kind,
                scripts=("plotly.min.js", f"data/{kind}.js", "explorers.js"))
