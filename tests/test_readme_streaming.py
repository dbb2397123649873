"""The README's "Streaming ingestion" snippet runs as written and prints what it says."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_streaming_ingestion_snippet_prints_what_the_readme_shows(tmp_path: Path) -> None:
    section = README.read_text(encoding="utf-8").split("## Streaming ingestion", 1)[1]
    code, shown = re.findall(r"```(?:python)?\n(.*?)```", section, re.DOTALL)[:2]
    script = tmp_path / "snippet.py"
    script.write_text(code, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout == shown
    assert "skipped branch record[2] (item 'oops')" in done.stderr  # the WARNING
