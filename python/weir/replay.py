"""weir.replay: a job's features over events, offline (weirctl replay), for
backfills in a notebook."""
from __future__ import annotations

import json
import os
import tempfile
from typing import Any, Dict, Iterable, List, Mapping, Optional, Union

import pandas as pd
import yaml

from weir import _weirctl


class Rows(list):
    """Feature rows (dicts, as docs/semantics.md "Feature rows" prints
    them) in the order they fired; ``to_df()`` gives a DataFrame."""

    def to_df(self) -> pd.DataFrame:
        columns = ["view", "key", "feature", "window_start", "window_end", "value", "revision", "available_at"]
        return pd.DataFrame(list(self), columns=columns)


def replay(job: Union[str, "os.PathLike[str]", Mapping[str, Any]],
           events: Union[str, "os.PathLike[str]", Iterable[Union[Mapping[str, Any], str]]], *, flush: bool = True,
           weirctl: Optional[str] = None) -> Rows:
    """Runs `job` (a YAML file path, YAML text or a dict) over `events` (a
    JSON-lines file path, or records as dicts or JSON strings) as one
    partition, exactly as a worker would, and returns the rows with their
    available_at. With ``flush`` (the default) every open window fires at
    the end. A bad spec raises SpecError."""
    cleanup: List[str] = []
    try:
        if isinstance(job, Mapping):
            job_path = _temp(yaml.safe_dump(dict(job), sort_keys=False), ".yaml", cleanup)
        elif isinstance(job, os.PathLike) or (isinstance(job, str) and "\n" not in job and os.path.isfile(job)):
            job_path = os.fspath(job)
        elif isinstance(job, str):
            job_path = _temp(job, ".yaml", cleanup)
        else:
            raise TypeError(f"job is a YAML file path, YAML text or a dict, not {type(job).__name__}")
        args = ["replay", "--job", job_path, "--quiet"]
        if flush:
            args.append("--flush")
        stdin = None
        if isinstance(events, (str, os.PathLike)):
            args += ["--input", os.fspath(events)]
        else:
            lines = [e if isinstance(e, str) else json.dumps(dict(e)) for e in events]
            stdin = ("\n".join(lines) + "\n").encode("utf-8")
            args += ["--input", "-"]
        out = _weirctl.run(weirctl, args, stdin=stdin)
        return Rows(_parse(line) for line in out.decode("utf-8").splitlines() if line)
    finally:
        for p in cleanup:
            os.unlink(p)


def _parse(line: str) -> Dict[str, Any]:
    row = json.loads(line)
    if row.pop("nonfinite", False):
        row["value"] = float(row["value"])
    return row


def _temp(text: str, suffix: str, cleanup: List[str]) -> str:
    fd, path = tempfile.mkstemp(prefix="weir-", suffix=suffix)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    cleanup.append(path)
    return path
