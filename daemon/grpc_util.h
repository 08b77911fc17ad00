// What the daemons and clients share on the gRPC side, kept out of
// weir::common so that it builds without gRPC:
//  - the one mapping of a Status to a gRPC status at the RPC layer;
//  - client channels that reconnect within a second of a peer coming back,
//    over TLS and with a bearer token when configured.
#pragma once

#include <memory>
#include <string>

#include <grpcpp/channel.h>
#include <grpcpp/support/status.h>

#include "common/status.h"
#include "daemon/security_options.h"

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

// Reads the files `security` names (CA, client certificate and key, token)
// and makes every later MakeChannel use them: TLS when a CA is given, and
// the bearer token on every call when a token file is given. Call it once
// from main, before any channel is made (weirctl, weir-worker); without it
// channels are plaintext and carry no token. An error names the file.
[[nodiscard]] Status ConfigureClientChannels(const ClientSecurity& security);

// A channel to HOST:PORT as ConfigureClientChannels set (plaintext by
// default), whose reconnect backoff starts at 100 ms and stays within 1 s
// (gRPC's default grows to two minutes), so a restarted coordinator or store
// is seen again at once. No send size limit.
std::shared_ptr<grpc::Channel> MakeChannel(const std::string& address);

// The contents of a PEM file; an error names the file and what it is for.
[[nodiscard]] Result<std::string> ReadPemFile(const std::string& path, const std::string& what);

}  // namespace weir
