"""The atheris targets in fuzz/: a bounded fuzz of each, in a subprocess, finds nothing.

CI runs this; a longer fuzz is run by hand (fuzz/README.md). libFuzzer owns the process it runs
in, so each target gets its own interpreter.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FUZZ = ROOT / "fuzz"
TARGETS = ["framing", "chat", "sample"]
# Bounded by both: 20,000 inputs take 2-10 s each here, and no target may take over 20 s.
RUNS = 20_000
MAX_SECONDS = 20

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("atheris") is None,
    reason="atheris is not installed; `pip install -e '.[dev]'` (or `pip install atheris`) "
    "installs it, and CI must have it",
)


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("seeds")
    subprocess.run(
        [sys.executable, str(FUZZ / "seeds.py"), str(folder)],
        check=True,
        capture_output=True,
        timeout=60,
        cwd=ROOT,
    )
    return folder


@pytest.mark.parametrize("target", TARGETS)
def test_each_fuzz_target_runs_a_bounded_fuzz_without_a_finding(
    target: str, seeds: Path, tmp_path: Path
) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(seeds / target, corpus)
    assert any(corpus.iterdir()), f"seeds.py wrote no seeds for {target}"
    command = [
        sys.executable,
        str(FUZZ / f"fuzz_{target}.py"),
        str(corpus),
        f"-runs={RUNS}",
        f"-max_total_time={MAX_SECONDS}",
        "-timeout=10",  # one input taking 10 s is a finding: nothing here should take 10 ms
        "-rss_limit_mb=1024",
        f"-artifact_prefix={tmp_path}/",  # crash files go here, not into the working tree
    ]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=4 * MAX_SECONDS, cwd=ROOT, check=False
    )
    log = result.stderr
    crashes = sorted(path.name for path in tmp_path.iterdir() if path.name != "corpus")
    assert result.returncode == 0, f"{' '.join(command)}\nartifacts: {crashes}\n{log[-6000:]}"
    assert crashes == []
    done = re.search(r"^Done (\d+) runs in (\d+) second", log, re.MULTILINE)
    assert done is not None, log[-2000:]
    assert int(done[1]) > 1000, f"only {done[1]} inputs ran in {done[2]} s"
