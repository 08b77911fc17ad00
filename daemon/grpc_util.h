// What the daemons and clients share on the gRPC side, kept out of
// weir::common so that it builds without gRPC:
//  - the one mapping of a Status to a gRPC status at the RPC layer;
//  - client channels that reconnect within a second of a peer coming back.
#pragma once

#include <memory>
#include <string>

#include <grpcpp/channel.h>
#include <grpcpp/support/status.h>

#include "common/status.h"

namespace weir {

// The gRPC status a handler returns for `s`; the message is kept.
grpc::Status ToGrpcStatus(const Status& s);

// The Status for a gRPC status a client received: the inverse of
// ToGrpcStatus, with the codes only gRPC has mapped to the nearest one
// (DEADLINE_EXCEEDED and RESOURCE_EXHAUSTED to Unavailable, PERMISSION_DENIED
// and UNAUTHENTICATED to FailedPrecondition, the rest to Internal). The
// message is kept; an empty one becomes gRPC's code name, so no error reads
// "failed: ".
Status FromGrpcStatus(const grpc::Status& s);

// An insecure channel to HOST:PORT whose reconnect backoff starts at 100 ms
// and stays within 1 s (gRPC's default grows to two minutes), so a restarted
// coordinator or store is seen again at once. No send size limit.
std::shared_ptr<grpc::Channel> MakeChannel(const std::string& address);

}  // namespace weir
