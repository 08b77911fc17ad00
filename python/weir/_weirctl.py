"""Runs the weirctl binary (submit, replay) and turns its failures into
exceptions that keep its message."""
from __future__ import annotations

import os
import shutil
import subprocess
from typing import List, Optional

from weir.errors import CommandError, NotFoundError, SpecError, UnavailableError


def find(weirctl: Optional[str]) -> str:
    """The weirctl to run: `weirctl`, else $WEIRCTL, else the one on PATH."""
    path = weirctl or os.environ.get("WEIRCTL") or shutil.which("weirctl")
    if not path:
        raise CommandError("weirctl not found: pass weirctl=PATH, set $WEIRCTL, or put weirctl on PATH "
                           "(cmake --build build --target weirctl)")
    return path


def run(weirctl: Optional[str], args: List[str], *, what: str = "", address: str = "",
        stdin: Optional[bytes] = None) -> bytes:
    """Runs weirctl with `args`; returns its stdout. Exit code 2 (bad input)
    raises SpecError (one problem per line of stderr), CommandError for a
    file it cannot open, or NotFoundError for an unknown job; 1
    (a runtime failure) raises UnavailableError when the server was not
    reached, else CommandError."""
    proc = subprocess.run([find(weirctl)] + args, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          check=False)
    if proc.returncode == 0:
        return proc.stdout
    message = proc.stderr.decode("utf-8", "replace").strip()
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    if proc.returncode == 2:
        lowered = message.lower()
        if "cannot open" in lowered or "no such file" in lowered:
            raise CommandError(message)
        if "no job" in lowered:
            raise NotFoundError(message)
        problems = [line[len("weirctl: "):] if line.startswith("weirctl: ") else line for line in lines]
        raise SpecError(message, problems)
    if what and ("unavailable" in message.lower() or "connect" in message.lower()):
        raise UnavailableError(f"cannot reach the {what} at {address}: {message}")
    raise CommandError(message or f"weirctl {' '.join(args)} exited {proc.returncode}")
