"""Merge docs/gallery/<name>.md into README.md between the GALLERY markers.

Run:  python tools/build_readme.py      (after regenerating results and their gallery notes)

The order follows DESIGN.md's list of experiments; a section that does not exist yet is
skipped, and one not in the list is appended at the end.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ORDER = ["weight_update", "learning_rate", "update_rules", "lr_finder", "vanishing_gradients",
         "direction_vs_scale", "taylor_step", "deep_chain", "optimizer_comparison",
         "lr_schedules", "edge_of_stability", "hessian_spectrum"]
START, END = "<!-- GALLERY START -->", "<!-- GALLERY END -->"


def main() -> None:
    folder = ROOT / "docs" / "gallery"
    found = {p.stem: p for p in folder.glob("*.md")}
    names = [n for n in ORDER if n in found] + sorted(set(found) - set(ORDER))
    sections = [found[n].read_text().strip() for n in names]
    readme = ROOT / "README.md"
    text = readme.read_text()
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    body = "\n\n".join(sections)
    readme.write_text(f"{head}{START}\n\n{body}\n\n{END}{tail}")
    print(f"README gallery: {', '.join(names)}")


if __name__ == "__main__":
    main()
