"""weir: the Python client of Weir.

    import weir
    client = weir.Client(coordinator="127.0.0.1:7071", store="127.0.0.1:7070")
    client.submit("job.yaml")
    client.get_online_features("user_txn", ["u1"]).to_df()
    training = client.get_historical_features(labels, "user_txn", ["txn_count_1h"],
                                              key_column="user_id", timestamp_column="ts")
    rows = weir.replay("job.yaml", "events.jsonl")

Point-in-time semantics: docs/semantics.md ("Availability", "Point-in-time reads").
"""
from weir.client import Client, OnlineFeatures, to_ms
from weir.errors import (CommandError, InvalidArgumentError, NotFoundError, SpecError, UnavailableError,
                         WeirError)
from weir.replay import Rows, replay

__all__ = ["Client", "OnlineFeatures", "Rows", "replay", "to_ms", "WeirError", "SpecError", "NotFoundError",
           "InvalidArgumentError", "UnavailableError", "CommandError"]
__version__ = "0.1.0"
