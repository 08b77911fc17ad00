// The gRPC metadata keys Weir's servers set and its clients read: one
// definition each, included by both sides. gRPC requires lower-case keys;
// a key ending in "-bin" would carry binary values (none does).
#pragma once

namespace weir {

// Trailing metadata of JobService.SubmitJob and GetJob while a running job's
// partition count is unknown (its topic not yet found): the reason, as text.
// Set by the coordinator, shown by weirctl.
inline constexpr char kPartitionsPendingKey[] = "weir-partitions-pending";

// Initial metadata of every call when the client has a token:
// "Bearer TOKEN" (daemon/auth.h). Set by MakeChannel's channels, checked by
// the servers' Authorizer.
inline constexpr char kAuthorizationKey[] = "authorization";

}  // namespace weir
