"""The README's snippets run as written: its Python blocks and its Quick start commands.

Run in a temporary folder (the commands write files), with ``.venv/bin/dnnsplit`` as the
installed command of this interpreter and ``../shared`` as the shared folder beside the
repository. The Quick start is run twice, as a user re-running it would.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
SHARED = ROOT.parent / "shared"


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def quick_start_commands() -> list[str]:
    section = README.split("## Quick start", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, flags=re.S).group(1)
    commands, current = [], ""
    for line in block.splitlines():
        line = re.sub(r"\s+#.*$", "", line)  # comments after a command
        current += line.rstrip("\\").rstrip() + " "
        if not line.rstrip().endswith("\\"):
            if current.strip():
                commands.append(current.strip())
            current = ""
    return commands


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def test_python_blocks_run(tmp_path):
    code = blocks("python")
    assert code, "the README has no Python block"
    for snippet in code:
        if "runs it not" in snippet.splitlines()[0]:  # needs a cluster: its syntax is checked
            compile(snippet, "README.md", "exec")
            continue
        proc = subprocess.run([sys.executable, "-c", snippet], cwd=tmp_path, env=_env(), capture_output=True,
                              text=True, timeout=300)
        assert proc.returncode == 0, f"{snippet}\n---\n{proc.stderr[-2000:]}"


@pytest.mark.skipif(not (SHARED / "topologies").is_dir(), reason="../shared/topologies is not there")
def test_quick_start_commands_run_twice(tmp_path):
    dnnsplit = shutil.which("dnnsplit", path=str(Path(sys.executable).parent))
    assert dnnsplit, "the dnnsplit command is not installed beside this interpreter"
    (tmp_path / "shared").symlink_to(SHARED)
    work = tmp_path / "work"
    work.mkdir()
    commands = quick_start_commands()
    assert len(commands) >= 10
    for round_ in (1, 2):
        for command in commands:
            cmd = command.replace(".venv/bin/dnnsplit", dnnsplit)
            proc = subprocess.run(cmd, shell=True, cwd=work, env=_env(), capture_output=True, text=True,
                                  timeout=600)
            assert proc.returncode == 0, f"round {round_}: {command}\n---\n{proc.stderr[-2000:]}"
    assert (work / "results" / "tables" / "index.md").exists()
