"""weir.Client: jobs on the coordinator, online and point-in-time features
from the feature store (docs/semantics.md, "Point-in-time reads")."""
from __future__ import annotations

import datetime as _dt
import os
import tempfile
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Union

import grpc
import numpy as np
import pandas as pd
import yaml
from google.protobuf import json_format

from weir import _weirctl
from weir.errors import InvalidArgumentError, NotFoundError, SpecError, from_rpc_error
from weir.v1 import services_pb2 as pb
from weir.v1 import services_pb2_grpc as rpc

Spec = Union[str, "os.PathLike[str]", Mapping[str, Any]]
Timestamp = Union[int, _dt.datetime, pd.Timestamp, np.datetime64]

# Entity rows per GetHistoricalFeatures request: a response of 5 features is
# about 1.5 MB, under gRPC's 4 MB message limit.
HISTORICAL_BATCH_ROWS = 20000
_MAX_MESSAGE = 64 * 1024 * 1024


def to_ms(t: Timestamp) -> int:
    """Milliseconds since the Unix epoch of an integer (taken as ms), a
    datetime (naive ones are UTC), a pandas Timestamp or a numpy datetime64."""
    if isinstance(t, (bool, np.bool_)):
        raise TypeError(f"a timestamp must be ms since the epoch or a datetime, not {t!r}")
    if isinstance(t, (int, np.integer)):
        return int(t)
    if isinstance(t, (_dt.datetime, pd.Timestamp, np.datetime64)):
        ts = pd.Timestamp(t)
        if ts.tzinfo is None:
            ts = ts.tz_localize("UTC")
        return int(ts.value // 1_000_000)
    raise TypeError(f"a timestamp must be ms since the epoch (int) or a datetime, not {type(t).__name__}: {t!r}")


def _value(row: Any) -> Any:
    kind = row.value.WhichOneof("kind")
    if kind == "text":
        return row.value.text
    if kind == "number":
        return row.value.number
    return None


class OnlineFeatures(dict):
    """{key: {feature: value}} from get_online_features. ``rows`` keeps the
    full rows (window, revision, available_at); ``to_df()`` gives one row per
    key and one column per feature."""

    def __init__(self, keys: Sequence[str], features: Optional[Sequence[str]], rows: List[Dict[str, Any]]) -> None:
        super().__init__()
        self.rows = rows
        self._features = list(features) if features else sorted({r["feature"] for r in rows})
        for k in keys:
            self[k] = {f: None for f in self._features}
        for r in rows:
            self.setdefault(r["key"], {})[r["feature"]] = r["value"]

    def to_df(self) -> pd.DataFrame:
        """One row per key (the index), one column per feature; None where
        the store had no row."""
        df = pd.DataFrame.from_dict(dict(self), orient="index", columns=self._features)
        df.index.name = "key"
        return df


class Client:
    """A client of one Weir cluster: its coordinator (jobs) and its feature
    store (features). Calls are synchronous; a Client may be shared by
    threads (gRPC channels are thread-safe).

    ``weirctl`` (the path of the weirctl binary; default: $WEIRCTL, then
    PATH) is needed by ``submit`` only, which validates a spec the way
    ``weirctl submit`` does."""

    def __init__(self, coordinator: str = "127.0.0.1:7071", store: str = "127.0.0.1:7070", *,
                 weirctl: Optional[str] = None, timeout: float = 30.0) -> None:
        self.coordinator = coordinator
        self.store = store
        self.timeout = timeout
        self._weirctl = weirctl
        options = [("grpc.max_receive_message_length", _MAX_MESSAGE),
                   ("grpc.max_send_message_length", _MAX_MESSAGE)]
        self._coordinator_channel = grpc.insecure_channel(coordinator, options=options)
        self._store_channel = grpc.insecure_channel(store, options=options)
        self._jobs = rpc.JobServiceStub(self._coordinator_channel)
        self._features = rpc.FeatureStoreStub(self._store_channel)

    def close(self) -> None:
        """Closes both channels."""
        self._coordinator_channel.close()
        self._store_channel.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ---- jobs (the coordinator) ----

    def _job_call(self, method: Any, request: Any) -> Any:
        try:
            return method(request, timeout=self.timeout)
        except grpc.RpcError as e:
            raise from_rpc_error(e, "coordinator", self.coordinator) from None

    def submit(self, spec: Spec) -> Dict[str, Any]:
        """Submits a job: YAML text, the path of a YAML file, or a dict.
        Returns the job (as ``status`` does). A refused spec raises
        SpecError listing every path and problem."""
        path, name = _spec_file(spec)
        try:
            _weirctl.run(self._weirctl, ["--coordinator", self.coordinator, "submit", path],
                         what="coordinator", address=self.coordinator)
        finally:
            if path != spec:
                os.unlink(path)
        return self.status(name)

    def jobs(self) -> List[Dict[str, Any]]:
        """Every job, as dicts (weir.v1.JobInfo)."""
        resp = self._job_call(self._jobs.ListJobs, pb.ListJobsRequest())
        return [_to_dict(j) for j in resp.jobs]

    def status(self, job: str) -> Dict[str, Any]:
        """One job and its partitions (weir.v1.JobInfo as a dict)."""
        return _to_dict(self._job_call(self._jobs.GetJob, pb.GetJobRequest(name=job)).job)

    def cancel(self, job: str) -> Dict[str, Any]:
        """Cancels a job; returns it as it is now."""
        return _to_dict(self._job_call(self._jobs.CancelJob, pb.CancelJobRequest(name=job)).job)

    def checkpoint(self, job: str) -> int:
        """Triggers a checkpoint now (or names the one pending); its id."""
        return int(self._job_call(self._jobs.TriggerCheckpoint, pb.TriggerCheckpointRequest(name=job)).checkpoint)

    def events(self, job: Optional[str] = None) -> List[Dict[str, Any]]:
        """The cluster event log, oldest first; only `job`'s when given."""
        req = pb.ListEventsRequest()
        if job is not None:
            req.job = job
        return [_to_dict(e) for e in self._job_call(self._jobs.ListEvents, req).events]

    # ---- features (the store) ----

    def get_online_features(self, view: str, keys: Sequence[Union[str, int]], features: Optional[Sequence[str]] = None,
                            as_of: Optional[Timestamp] = None) -> OnlineFeatures:
        """Per key and feature, the latest row; with ``as_of`` = T, the row an
        online read returned while the stream stood at event time T (the
        greatest (window_end, revision) among rows with available_at <= T).
        Returns {key: {feature: value}} (None where there is no row); call
        ``.to_df()`` on it for a DataFrame."""
        if isinstance(keys, (str, bytes)):
            raise TypeError("keys must be a list of keys, not one string")
        keys = [str(k) for k in keys]
        if not keys:
            raise InvalidArgumentError("keys is empty: name at least one key")
        req = pb.GetOnlineFeaturesRequest(view=view, keys=keys, features=list(features or []))
        if as_of is not None:
            req.as_of_ms = to_ms(as_of)
            if req.as_of_ms == 0:
                raise InvalidArgumentError("as_of 0 means 'latest' on the wire: pass None for the latest row")
        try:
            resp = self._features.GetOnlineFeatures(req, timeout=self.timeout)
        except grpc.RpcError as e:
            raise from_rpc_error(e, "feature store", self.store) from None
        rows = [_row_dict(r) for r in resp.rows]
        return OnlineFeatures(keys, features, rows)

    def get_historical_features(self, entity_df: pd.DataFrame, view: str, features: Sequence[str], *,
                                key_column: str = "key", timestamp_column: str = "timestamp") -> pd.DataFrame:
        """A point-in-time join: a copy of ``entity_df`` with one column per
        feature holding, for each entity row (key, timestamp), the value an
        online read as of that timestamp returned (NaN or None when there was
        none). Timestamps are pandas datetimes (naive ones are UTC) or
        integers (ms since the epoch)."""
        if not isinstance(entity_df, pd.DataFrame):
            raise TypeError(f"entity_df must be a pandas DataFrame, not {type(entity_df).__name__}")
        if isinstance(features, str):
            raise TypeError("features must be a list of feature names, not one string")
        features = list(features)
        if not features:
            raise InvalidArgumentError("features is empty: name at least one feature of view " + repr(view))
        for column in (key_column, timestamp_column):
            if column not in entity_df.columns:
                raise InvalidArgumentError(f"entity_df has no column {column!r} (its columns: "
                                           f"{', '.join(map(str, entity_df.columns))}); pass key_column= and "
                                           f"timestamp_column= to name others")
        clash = [f for f in features if f in entity_df.columns]
        if clash:
            raise InvalidArgumentError(f"entity_df already has columns named like features: {', '.join(clash)}")
        if entity_df.empty:
            raise InvalidArgumentError("entity_df is empty: there are no entity rows to join")
        keys = _key_strings(entity_df[key_column], key_column)
        times = _timestamps_ms(entity_df[timestamp_column], timestamp_column)
        columns = self._historical(view, features, keys, times)
        out = entity_df.copy()
        for f in features:
            out[f] = columns[f]
        return out

    def _historical(self, view: str, features: List[str], keys: List[str], times: np.ndarray) -> Dict[str, Any]:
        """The join over the wire. Entity rows go out sorted by key (the
        store seeks once per key and feature of a batch, so a key's rows
        should share batches), and the answers are put back in order."""
        n = len(keys)
        order = np.argsort(np.asarray(keys, dtype=object), kind="stable")
        sorted_keys = [keys[i] for i in order]
        sorted_times = times[order]

        def requests() -> Iterator[Any]:
            for start in range(0, n, HISTORICAL_BATCH_ROWS):
                req = pb.GetHistoricalFeaturesRequest(
                    keys=sorted_keys[start:start + HISTORICAL_BATCH_ROWS],
                    timestamps_ms=sorted_times[start:start + HISTORICAL_BATCH_ROWS].tolist())
                if start == 0:
                    req.view = view
                    req.features.extend(features)
                yield req

        numbers = {f: np.full(n, np.nan) for f in features}
        texts: Dict[str, Dict[int, str]] = {f: {} for f in features}
        start = 0
        try:
            for resp in self._features.GetHistoricalFeatures(requests(), timeout=max(self.timeout, n / 20000.0)):
                size = min(HISTORICAL_BATCH_ROWS, n - start)
                rows = order[start:start + size]  # the entity rows of this batch, in the caller's order
                for c in resp.columns:
                    found = np.array(c.found, dtype=np.bool_)
                    values = np.asarray(c.numbers, dtype=np.float64)
                    numbers[c.feature][rows] = np.where(found, values, np.nan)
                    for i, text in c.texts.items():
                        texts[c.feature][int(rows[i])] = text
                start += size
        except grpc.RpcError as e:
            raise from_rpc_error(e, "feature store", self.store) from None
        result: Dict[str, Any] = {}
        for f in features:
            if texts[f]:
                col = numbers[f].astype(object)
                col[np.isnan(numbers[f])] = None
                for i, text in texts[f].items():
                    col[i] = text
                result[f] = col
            else:
                result[f] = numbers[f]
        return result


def _to_dict(message: Any) -> Dict[str, Any]:
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def _row_dict(r: Any) -> Dict[str, Any]:
    return {"view": r.view, "key": r.key, "feature": r.feature, "window_start": r.window_start,
            "window_end": r.window_end, "value": _value(r), "revision": r.revision,
            "available_at": r.available_at if r.HasField("available_at") else r.window_end}


def _spec_file(spec: Spec) -> "tuple[str, str]":
    """(a YAML file of the spec, the job's name). Text and dicts go to a
    temporary file (the caller removes it when it is not `spec` itself)."""
    if isinstance(spec, Mapping):
        text = yaml.safe_dump(dict(spec), sort_keys=False)
    elif isinstance(spec, os.PathLike) or (isinstance(spec, str) and "\n" not in spec and os.path.isfile(spec)):
        path = os.fspath(spec)
        with open(path, encoding="utf-8") as f:
            return path, _spec_name(f.read())
    elif isinstance(spec, str):
        text = spec
    else:
        raise TypeError(f"a spec is YAML text, a file path or a dict, not {type(spec).__name__}")
    name = _spec_name(text)
    fd, path = tempfile.mkstemp(prefix="weir-spec-", suffix=".yaml")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    return path, name


def _spec_name(text: str) -> str:
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise SpecError(f"the job spec is not valid YAML: {e}") from None
    if not isinstance(doc, dict):
        raise SpecError("the job spec must be a YAML mapping (name, source, key, features, ...)")
    name = doc.get("name")
    if not isinstance(name, str) or not name:
        raise SpecError("name: a job needs a name (a non-empty string)", ["name: a job needs a name"])
    return name


def _key_strings(col: pd.Series, name: str) -> List[str]:
    if col.isna().any():
        raise InvalidArgumentError(f"column {name!r} has {int(col.isna().sum())} missing keys")
    if pd.api.types.is_integer_dtype(col.dtype) or pd.api.types.is_string_dtype(col.dtype) or col.dtype == object:
        keys = col.astype(str).tolist()
        if any(k == "" for k in keys):
            raise InvalidArgumentError(f"column {name!r} has empty keys")
        return keys
    raise TypeError(f"column {name!r} must hold string or integer keys, not {col.dtype}")


def _timestamps_ms(col: pd.Series, name: str) -> np.ndarray:
    if col.isna().any():
        raise InvalidArgumentError(f"column {name!r} has {int(col.isna().sum())} missing timestamps")
    if pd.api.types.is_datetime64_any_dtype(col.dtype):
        if getattr(col.dt, "tz", None) is not None:
            col = col.dt.tz_convert("UTC").dt.tz_localize(None)
        return col.to_numpy(dtype="datetime64[ms]").astype(np.int64)
    if pd.api.types.is_integer_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype):
        return col.to_numpy(dtype=np.int64)
    raise TypeError(f"column {name!r} must hold pandas datetimes or integers (ms since the epoch), not {col.dtype}"
                    f" (convert with pd.to_datetime(...) or .astype('int64'))")


__all__ = ["Client", "OnlineFeatures", "to_ms", "NotFoundError", "SpecError"]
