"""The report site: stored results as static, offline HTML, plus interactive explorers.

    gdlab report                 builds results/site/ from results/ (no experiment reruns)
    gdlab.report.build()         the same from Python; returns the site folder

The site has ``index.html``, one page per experiment (its question, the claims table
from result.json with measured vs expected and seeds, the figures, the configuration,
the versions and the command that reproduces it), pages for stored ``gdlab compare``
and ``gdlab inspect`` results, and four explorers whose sliders look up values measured
by compiled sweeps (``gdlab.report._explorers``). It is self-contained: figures are
copied in, and the only JavaScript is plotly's own bundle (from the ``plotly`` package)
and ``explorers.js``; it works opened from the file system, offline. The folder is
replaced as one unit (``gdlab.results.replace_folder``).
"""

import json
import time
from importlib import resources
from pathlib import Path

from gdlab import results
from gdlab.report import _pages

__all__ = ["build"]


def _experiments(source: Path) -> list[dict]:
    from gdlab import experiment

    found = []
    for name in experiment.names():
        try:
            module = experiment.load(name).module
            doc = module.__doc__ or ""
        except ValueError as error:
            doc = f"(the script cannot be loaded: {error})"
        folder = source / name
        try:
            result = experiment.load_result(name, folder)
        except ValueError:
            result = None
        figures = sorted(p.stem for p in folder.glob("*.png")) if result else []
        found.append({"name": name, "doc": doc, "result": result, "figures": figures,
                      "question": doc.strip().splitlines()[0] if doc.strip() else name,
                      "claims": None if result is None else (result.get("claims") or [])})
    return found


def _extra(source: Path) -> list[dict]:
    """Stored ``gdlab compare`` / ``gdlab inspect`` results: <source>/<verb>/<name>/."""
    found = []
    for verb in ("compare", "inspect"):
        for folder in sorted((source / verb).glob("*/")) if (source / verb).is_dir() else []:
            if (folder / results.RESULT_FILE).exists():
                found.append({"verb": verb, "folder": folder,
                              "href": f"{verb}_{folder.name}.html",
                              "title": f"gdlab {verb}: {folder.name}"})
    return found


def _extra_page(item: dict) -> str:
    e = _pages.e
    folder, key = item["folder"], f"{item['verb']}_{item['folder'].name}"
    table = folder / "table.md"
    images = "".join(f'<img class="figure" src="{e(key)}/{e(p.name)}" alt="{e(p.stem)}">'
                     for p in sorted(folder.glob("*.png")))
    body = (f"<h1>{e(item['title'])}</h1>"
            + (f"<pre>{e(table.read_text())}</pre>" if table.exists() else "") + images)
    return _pages.page(item["title"], body)


def build(*, source: Path | None = None, out: Path | None = None, explorers: bool = True,
          quick: bool = False) -> Path:
    """Build the site from the results in ``source`` (default: ``results_dir()``) into
    ``out`` (default: ``<source>/site``); ``explorers=False`` skips the explorers'
    sweeps, ``quick`` makes them small (tests)."""
    from gdlab import experiment

    source = Path(source or experiment.results_dir(quick))
    out = Path(out or source / "site")
    start = time.perf_counter()
    data = {}
    if explorers:
        import jax

        from gdlab.report import _explorers

        jax.config.update("jax_enable_x64", True)
        data = _explorers.compute(quick=quick)
    experiments = _experiments(source)
    extra = _extra(source)
    by_name = {x["name"]: x for x in experiments}

    def write(staging: Path):
        static = resources.files("gdlab.report") / "static"
        for name in ("style.css", "explorers.js"):
            results.write_text(staging / name, (static / name).read_text())
        results.write_text(staging / "index.html",
                           _pages.index_page(experiments, list(data), extra))
        for x in experiments:
            if x["result"] is None:
                continue
            for figure in x["figures"]:
                path = source / x["name"] / f"{figure}.png"
                results.write_bytes(staging / x["name"] / path.name, path.read_bytes())
            results.write_text(staging / f"{x['name']}.html",
                               _pages.experiment_page(x["name"], x["doc"], x["result"],
                                                      x["figures"]))
        for item in extra:
            key = f"{item['verb']}_{item['folder'].name}"
            for png in item["folder"].glob("*.png"):
                results.write_bytes(staging / key / png.name, png.read_bytes())
            results.write_text(staging / item["href"], _extra_page(item))
        if data:
            from plotly.offline import get_plotlyjs

            results.write_text(staging / "plotly.min.js", get_plotlyjs())
            for kind, values in data.items():
                text = json.dumps(results.to_jsonable(values), separators=(",", ":"),
                                  allow_nan=False)
                results.write_text(staging / "data" / f"{kind}.js",
                                   f"window.GDLAB_DATA = window.GDLAB_DATA || {{}};\n"
                                   f"window.GDLAB_DATA.{kind} = {text};\n")
                linked = by_name.get(_pages.EXPLORERS[kind][1], {}).get("result")
                results.write_text(staging / f"explore_{kind}.html",
                                   _pages.explorer_page(kind, linked))
        results.write_json(staging / "site.json", {
            "experiments": [x["name"] for x in experiments], "explorers": list(data),
            "extra": [x["href"] for x in extra],
            "seconds": round(time.perf_counter() - start, 2)})

    return results.replace_folder(out, write)
