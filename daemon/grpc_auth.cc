#include "daemon/grpc_auth.h"

#include <string>

#include "daemon/rpc_metadata.h"

namespace weir {

grpc::Status Authorizer::Check(const grpc::ServerContext& context, Roles allowed, std::string_view what) const {
  if (!tokens_.has_value()) return grpc::Status::OK;
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
  const Roles roles = value.starts_with(kBearer) ? tokens_->RolesOf(value.substr(kBearer.size())) : Roles();
  if (roles.empty()) {
    return {grpc::StatusCode::UNAUTHENTICATED,
            std::string(what) +
                " refused: the bearer token is not one this server knows (check the client's token "
                "file against the server's --tokens-file)"};
  }
  if (!roles.Intersects(allowed)) {
    return {grpc::StatusCode::PERMISSION_DENIED, std::string(what) + " needs a token with the role " +
                                                     allowed.ToString() + "; this token has " + roles.ToString()};
  }
  return grpc::Status::OK;
}

}  // namespace weir
