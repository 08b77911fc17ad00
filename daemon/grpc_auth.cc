#include "daemon/grpc_auth.h"

#include <string>

#include "daemon/rpc_metadata.h"

namespace weir {

grpc::Status Authorizer::Authenticate(const grpc::ServerContextBase& context, std::string_view what,
                                      const Grant** grant) const {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find(kAuthorizationKey);
  if (it == metadata.end()) {
    return {grpc::StatusCode::UNAUTHENTICATED,
            std::string(what) +
                " needs a bearer token and the call carried none: give the client a token file "
                "(weirctl --token-file or WEIR_TOKEN_FILE; weir-worker --token-file)"};
  }
  const std::string_view value(it->second.data(), it->second.size());
  constexpr std::string_view kBearer = "Bearer ";
  *grant = value.starts_with(kBearer) ? tokens_->GrantOf(value.substr(kBearer.size())) : nullptr;
  if (*grant == nullptr) {
    return {grpc::StatusCode::UNAUTHENTICATED,
            std::string(what) +
                " refused: the bearer token is not one this server knows (check the client's token "
                "file against the server's --tokens-file)"};
  }
  return grpc::Status::OK;
}

grpc::Status Authorizer::Check(const grpc::ServerContextBase& context, Roles allowed, std::string_view what) const {
  if (!tokens_.has_value()) return grpc::Status::OK;
  const Grant* grant = nullptr;
  if (auto s = Authenticate(context, what, &grant); !s.ok()) return s;
  if (!grant->roles.Intersects(allowed)) {
    return {grpc::StatusCode::PERMISSION_DENIED, std::string(what) + " needs a token with the role " +
                                                     allowed.ToString() + "; this token has " +
                                                     grant->roles.ToString()};
  }
  return grpc::Status::OK;
}

grpc::Status Authorizer::CheckWorker(const grpc::ServerContextBase& context, std::string_view worker_id,
                                     std::string_view what) const {
  if (auto s = Check(context, Role::kWorker, what); !s.ok() || !tokens_.has_value()) return s;
  const Grant* grant = nullptr;
  if (auto s = Authenticate(context, what, &grant); !s.ok()) return s;
  if (!grant->worker_id.empty() && grant->worker_id != worker_id) {
    return {grpc::StatusCode::PERMISSION_DENIED,
            std::string(what) + " as worker \"" + std::string(worker_id) + "\" refused: this token may act only as " +
                "worker \"" + grant->worker_id + "\" (give each worker its own token, or start it with --id " +
                grant->worker_id + ")"};
  }
  return grpc::Status::OK;
}

}  // namespace weir
