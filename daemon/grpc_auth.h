// Authorizer: the per-method role check of a gRPC server (coordinator,
// feature store). Each handler's first line asks it whether the call's
// bearer token (metadata `authorization: Bearer TOKEN`) holds one of the
// roles the method needs. Include it from service implementations only (it
// brings in grpc++).
//
// Built once in a daemon's main, before the gRPC server starts; then
// read-only, so any handler thread may call it.
#pragma once

#include <optional>
#include <string_view>

#include <grpcpp/server_context.h>
#include <grpcpp/support/status.h>

#include "daemon/auth.h"

namespace weir {

class Authorizer {
 public:
  // Without tokens every call is allowed (the daemon warns at startup).
  Authorizer() = default;
  explicit Authorizer(TokenTable tokens) : tokens_(std::move(tokens)) {}

  bool enabled() const { return tokens_.has_value(); }

  // OK when auth is off or the call's token holds one of `allowed`;
  // UNAUTHENTICATED without a token or with an unknown one;
  // PERMISSION_DENIED with a token lacking the roles. `what` names the call
  // in the message ("CancelJob").
  grpc::Status Check(const grpc::ServerContextBase& context, Roles allowed, std::string_view what) const;
  // Check() for the `worker` role, and, when the token is bound to one
  // worker (`worker:ID`), PERMISSION_DENIED unless `worker_id` is that ID.
  grpc::Status CheckWorker(const grpc::ServerContextBase& context, std::string_view worker_id,
                           std::string_view what) const;

 private:
  // The call's token's grant; UNAUTHENTICATED without one it knows.
  grpc::Status Authenticate(const grpc::ServerContextBase& context, std::string_view what, const Grant** grant) const;

  std::optional<TokenTable> tokens_;
};

// Check() through a possibly null authorizer (services built without one allow every call).
inline grpc::Status Authorize(const Authorizer* authorizer, const grpc::ServerContextBase* context, Roles allowed,
                              std::string_view what) {
  if (authorizer == nullptr) return grpc::Status::OK;
  return authorizer->Check(*context, allowed, what);
}

// CheckWorker() through a possibly null authorizer.
inline grpc::Status AuthorizeWorker(const Authorizer* authorizer, const grpc::ServerContextBase* context,
                                    std::string_view worker_id, std::string_view what) {
  if (authorizer == nullptr) return grpc::Status::OK;
  return authorizer->CheckWorker(*context, worker_id, what);
}

}  // namespace weir
