"""One-command setup for a fresh machine that has only python3 (3.11+) and git.

    python3 infra/bootstrap.py up     # set up, then run the local stack in the foreground
    python3 infra/bootstrap.py test   # set up, then ruff, mypy --strict and pytest

This file uses the standard library only, because it runs before anything is installed.
It creates `.venv/`, installs the hash-pinned `requirements.lock` into it and makes the
repository importable from the venv. A stamp holding the lock's hash makes a second run
skip the install, so both commands stay cheap to repeat.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
LOCK = ROOT / "requirements.lock"
STAMP = VENV / ".regie-lock.sha256"


def _venv_python() -> Path:
    return VENV / "bin" / "python"


def _site_packages(python: Path) -> Path:
    out = subprocess.check_output(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        text=True,
    )
    return Path(out.strip())


def ensure_environment() -> Path:
    if sys.version_info < (3, 11):  # noqa: UP036 - this file runs under any python3
        sys.exit(f"Regie needs Python 3.11 or newer; this is {sys.version.split()[0]}.")
    python = _venv_python()
    if not python.exists():
        print("regie: creating .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    digest = hashlib.sha256(LOCK.read_bytes()).hexdigest()
    if not STAMP.exists() or STAMP.read_text().strip() != digest:
        print("regie: installing pinned dependencies from requirements.lock ...", flush=True)
        subprocess.check_call(
            [str(python), "-m", "pip", "install", "--quiet", "--require-hashes",
             "--no-deps", "-r", str(LOCK)],
            cwd=ROOT,
        )
        STAMP.write_text(digest + "\n")
    # The repository root on the venv's path, like an editable install, without needing a
    # build backend in the venv.
    (_site_packages(python) / "regie-root.pth").write_text(str(ROOT) + "\n")
    # The operator CLI, as `.venv/bin/regie`.
    cli = VENV / "bin" / "regie"
    cli.write_text(f'#!/bin/sh\nexec "{python}" -m workers.cli "$@"\n')
    cli.chmod(0o755)
    return python


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = str(VENV / "bin") + os.pathsep + env.get("PATH", "")
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


# The browser tests drive the system's Chromium (never a downloaded one).
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
BROWSER_INSTALL = "apt-get update && apt-get install -y chromium"


def ensure_browser() -> None:
    """Chromium for the workspace's browser tests: installed with apt when missing and
    this runs as root (as CI does); otherwise say exactly what to install. Without it the
    browser tests are skipped with that message, and fail in CI (`CI=true`)."""
    if os.environ.get("REGIE_CHROMIUM") or any(shutil.which(b) for b in BROWSERS):
        return
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        print(f"regie: no Chromium for the browser tests; $ {BROWSER_INSTALL}", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        if subprocess.call(["apt-get", "update"], env=env) == 0:
            subprocess.call(["apt-get", "install", "-y", "chromium"], env=env)
        if any(shutil.which(b) for b in BROWSERS):
            return
    print("regie: no Chromium found for the browser tests (tests/browser); install it "
          f"with `sudo {BROWSER_INSTALL}` (Debian/Ubuntu) or set REGIE_CHROMIUM to a "
          "Chromium or Chrome executable. Without it they are skipped, and fail in CI.",
          flush=True)


def run_tests(python: Path, extra: list[str]) -> int:
    ensure_browser()
    steps: list[list[str]] = [
        [str(python), "-m", "ruff", "check", "."],
        [str(python), "-m", "mypy"],
        [str(python), "-m", "pytest", *extra],
    ]
    for step in steps:
        print("regie: $ " + " ".join(Path(step[0]).name if i == 0 else a
                                      for i, a in enumerate(step)), flush=True)
        code = subprocess.call(step, cwd=ROOT, env=_env())
        if code != 0:
            return code
    return 0


def run_stack(python: Path, extra: list[str]) -> int:
    # exec, so that Ctrl-C goes straight to the stack launcher, which stops its children.
    os.chdir(ROOT)
    os.execve(str(python), [str(python), "-m", "infra.stack", *extra], _env())


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"up", "test", "setup"}:
        print(__doc__)
        return 2
    python = ensure_environment()
    command, extra = argv[0], argv[1:]
    if command == "setup":
        return 0
    if command == "test":
        return run_tests(python, extra)
    return run_stack(python, extra)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
