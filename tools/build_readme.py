"""Render docs/gallery/<name>.md from results/<name>/result.json into README.md.

Run:    python tools/build_readme.py            (after regenerating results)
Check:  python tools/build_readme.py --check    (exit 1 if README.md differs from what the
                                                 current results render; CI runs it)

A gallery section is Markdown with placeholders filled from its experiment's stored
result, so no measured number is typed by hand:

    {{metrics.final_error.input_2_alpha_1:.2g}}   a value (dotted path into result.json;
                                                  keys may contain dots) with a format spec
    {{claims}}                                    the claims table (gdlab.claims.markdown)
    {{claims.summary}}                            "claims: k/n hold"

The order follows DESIGN.md's list of experiments; a section that does not exist yet is
skipped, and one not in the list is appended at the end.
"""

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gdlab import claims as _claims  # noqa: E402

ORDER = ["weight_update", "learning_rate", "update_rules", "lr_finder", "vanishing_gradients",
         "direction_vs_scale", "taylor_step", "deep_chain", "optimizer_comparison",
         "lr_schedules", "edge_of_stability", "hessian_spectrum"]
START, END = "<!-- GALLERY START -->", "<!-- GALLERY END -->"
PLACEHOLDER = re.compile(r"\{\{\s*([^{}:]+?)\s*(?::([^{}]*))?\}\}")


def lookup(result: dict, path: str):
    """Follow a dotted path; a key may itself contain dots ("input_0.5_alpha_1")."""
    parts, node = path.split("."), result
    while parts:
        for n in range(len(parts), 0, -1):
            key = ".".join(parts[:n])
            if isinstance(node, dict) and key in node:
                node, parts = node[key], parts[n:]
                break
            if isinstance(node, list) and key.lstrip("-").isdigit():
                node, parts = node[int(key)], parts[n:]
                break
        else:
            raise KeyError(path)
    return node


def render(text: str, name: str, result: dict) -> str:
    def fill(match):
        path, spec = match.group(1), match.group(2)
        if path == "claims":
            return _claims.markdown(result.get("claims") or [])
        if path == "claims.summary":
            return _claims.summary(result.get("claims") or [])
        try:
            value = lookup(result, path)
        except (KeyError, IndexError):
            raise SystemExit(f"docs/gallery/{name}.md: {{{{{path}}}}} is not in "
                             f"results/{name}/result.json") from None
        if value is None:
            return "n/a"
        return format(value, spec) if spec else str(value)

    return PLACEHOLDER.sub(fill, text)


def build() -> tuple[str, list[str]]:
    folder = ROOT / "docs" / "gallery"
    found = {p.stem: p for p in folder.glob("*.md")}
    names = [n for n in ORDER if n in found] + sorted(set(found) - set(ORDER))
    sections = []
    for name in names:
        path = ROOT / "results" / name / "result.json"
        result = json.loads(path.read_text()) if path.exists() else {}
        sections.append(render(found[name].read_text().strip(), name, result))
    text = (ROOT / "README.md").read_text()
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    body = "\n\n".join(sections)
    return f"{head}{START}\n\n{body}\n\n{END}{tail}", names


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if README.md differs from what the results render")
    args = parser.parse_args(argv)
    rendered, names = build()
    readme = ROOT / "README.md"
    if args.check:
        if readme.read_text() != rendered:
            print("README.md is out of date with results/: run python tools/build_readme.py",
                  file=sys.stderr)
            return 1
        print(f"README gallery up to date ({len(names)} sections)")
        return 0
    readme.write_text(rendered)
    print(f"README gallery: {', '.join(names)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
