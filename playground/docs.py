"""The README's methods table, generated from the registries so it cannot drift.

`python -m playground.docs` rewrites the block between `<!-- registry-table -->` markers;
a test fails when the README and the registries disagree.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
START, END = "<!-- registry-table -->", "<!-- /registry-table -->"


def registry_table() -> str:
    from playground.drafters import DRAFTERS
    from playground.samplers import SAMPLERS
    from playground.schedules import SCHEDULES

    lines = ["| kind | name | lossless | what it does | paper |", "|---|---|---|---|---|"]
    for kind, registry in (("sampler", SAMPLERS), ("drafter", DRAFTERS), ("schedule", SCHEDULES)):
        for entry in registry:
            if kind == "sampler":
                lossless = "yes" if entry.lossless else f"**no** — follows {entry.follows}"
            else:
                lossless = "—"
            summary = entry.summary.replace("|", "/")
            lines.append(f"| {kind} | `{entry.name}` | {lossless} | {summary} | {entry.paper} |")
    return "\n".join(lines) + "\n"


def readme_block(text: str) -> str:
    match = re.search(re.escape(START) + r"\n(.*?)" + re.escape(END), text, re.S)
    return match.group(1) if match else ""


def update_readme(path: Path = README) -> None:
    text = path.read_text()
    block = f"{START}\n{registry_table()}{END}"
    path.write_text(
        re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: block, text, flags=re.S)
    )


if __name__ == "__main__":
    update_readme()
    sys.stdout.write(registry_table())
