// What a daemon's main does with its TLS and token settings
// (security_options.h) at startup: build its Authorizer, and say loudly when
// it runs without TLS or tokens. Include it from a main only (it brings in
// grpc++ through grpc_auth.h).
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "daemon/grpc_auth.h"
#include "daemon/prometheus_fwd.h"
#include "daemon/security_options.h"

namespace weir {

// The Authorizer of a server: checking the tokens of security.tokens_file,
// or allowing every call without one. An error names the file and the line.
[[nodiscard]] Result<std::unique_ptr<Authorizer>> LoadAuthorizer(const ServerSecurity& security);

// Logs a warning for each of TLS and tokens a server runs without, and sets
// the gauge weir_security_enabled{feature="tls"|"auth"} (1 on, 0 off) in
// `registry` when it is not null, so a dashboard or alert sees it too.
void WarnIfInsecure(const std::string& daemon, const ServerSecurity& security, prometheus::Registry* registry);
// The same for a client daemon (weir-worker): connections without TLS, calls without a token.
void WarnIfInsecure(const std::string& daemon, const ClientSecurity& security, prometheus::Registry* registry);

}  // namespace weir
