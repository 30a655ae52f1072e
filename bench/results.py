"""bench/RESULTS.md holds one section per benchmark, each between its own markers, so that each
benchmark rewrites its own section and keeps the others."""

from __future__ import annotations

from pathlib import Path


def _markers(name: str) -> tuple[str, str]:
    return f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"


def write_section(path: Path, name: str, markdown: str) -> None:
    """Put ``markdown`` in section ``name`` of ``path``: in place of the old one, else at the end."""
    start, end = _markers(name)
    block = f"{start}\n{markdown.strip()}\n{end}\n"
    text = path.read_text() if path.exists() else ""
    a, b = text.find(start), text.find(end)
    if a >= 0 and b > a:
        text = text[:a] + block + text[b + len(end) :].lstrip("\n")
    else:
        text = (text.rstrip("\n") + "\n\n" if text.strip() else "") + block
    path.write_text(text)
