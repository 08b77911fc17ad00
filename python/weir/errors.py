"""Exceptions of the weir package. Every one keeps the server's (or weirctl's)
own message, which names what was wrong and what to do."""
from __future__ import annotations

from typing import List, Optional

import grpc


class WeirError(Exception):
    """Base class of every error the weir package raises on purpose."""


class SpecError(WeirError, ValueError):
    """A job spec was refused. ``problems`` holds one entry per path and
    problem (``features[2].window.sliding.slide: ...``)."""

    def __init__(self, message: str, problems: Optional[List[str]] = None) -> None:
        super().__init__(message)
        self.problems: List[str] = problems if problems is not None else [message]


class NotFoundError(WeirError, LookupError):
    """A job, view or feature that does not exist."""


class InvalidArgumentError(WeirError, ValueError):
    """A request the server (or this client) refused as malformed."""


class UnavailableError(WeirError, ConnectionError):
    """A server could not be reached; the message names its address."""


class CommandError(WeirError):
    """weirctl failed for another reason (an I/O error, a server error)."""


def from_rpc_error(error: grpc.RpcError, what: str, address: str) -> WeirError:
    """Maps a gRPC error of a call to `what` at `address` to an exception."""
    code = error.code() if hasattr(error, "code") else None
    details = error.details() if hasattr(error, "details") else str(error)
    if code == grpc.StatusCode.UNAVAILABLE or code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return UnavailableError(f"cannot reach the {what} at {address}: {details}")
    if code == grpc.StatusCode.NOT_FOUND:
        return NotFoundError(details)
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return InvalidArgumentError(details)
    if code == grpc.StatusCode.UNIMPLEMENTED:
        return WeirError(f"{address} does not serve this call ({details}): is it the {what}?")
    name = code.name if code is not None else "UNKNOWN"
    return WeirError(f"the {what} at {address} failed the call ({name}): {details}")
