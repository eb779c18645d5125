"""The README's set-up commands are what CI runs, and its commands name only flags that exist."""

from __future__ import annotations

import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def _setup_commands() -> list[str]:
    """The lines of the README's first ``bash`` block: install + main job, then the tests."""
    readme = (REPO_ROOT / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)```", readme, re.S)
    assert block is not None, "the README has no bash block"
    return [ln for ln in block.group(1).splitlines() if ln.strip()]


def test_readme__two_setup_commands_run_verbatim_by_ci():
    commands = _setup_commands()
    assert len(commands) == 2, commands
    ci_lines = [ln.strip() for ln in (REPO_ROOT / ".ci" / "run").read_text().splitlines()]
    for command in commands:
        assert command.strip() in ci_lines, f"CI does not run the README's command verbatim: {command}"
    assert "install" in commands[0] and "pytest" in commands[1]


def test_readme__no_command_points_at_the_shared_folder():
    readme = (REPO_ROOT / "README.md").read_text()
    commands = re.findall(r"```bash\n(.*?)```", readme, re.S)
    assert not [c for c in commands if "shared/data" in c]
