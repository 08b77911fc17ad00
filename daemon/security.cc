#include "daemon/security.h"

#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>

namespace weir {
namespace {

void SetGauges(prometheus::Registry* registry, bool tls, bool auth) {
  if (registry == nullptr) return;
  auto& family = prometheus::BuildGauge()
                     .Name("weir_security_enabled")
                     .Help(
                         "1 when this daemon uses the feature (tls: TLS on its gRPC connections; auth: bearer "
                         "tokens), 0 when it runs without it")
                     .Register(*registry);
  family.Add({{"feature", "tls"}}).Set(tls ? 1 : 0);
  family.Add({{"feature", "auth"}}).Set(auth ? 1 : 0);
}

}  // namespace

Result<std::unique_ptr<Authorizer>> LoadAuthorizer(const ServerSecurity& security) {
  if (!security.auth()) return std::make_unique<Authorizer>();
  auto tokens = TokenTable::Load(security.tokens_file);
  if (!tokens.ok()) return tokens.status();
  spdlog::info("authorization on: {} tokens from {}", tokens->size(), security.tokens_file);
  return std::make_unique<Authorizer>(std::move(*tokens));
}

void WarnIfInsecure(const std::string& daemon, const ServerSecurity& security, prometheus::Registry* registry) {
  if (!security.tls()) {
    spdlog::warn(
        "weir-{} serves gRPC without TLS: anyone on the network can read and alter its traffic (set --tls-cert "
        "and --tls-key, docs/operations.md \"Security\")",
        daemon);
  }
  if (!security.auth()) {
    spdlog::warn(
        "weir-{} runs without tokens: any client that reaches it may call every method (set --tokens-file, "
        "docs/operations.md \"Security\")",
        daemon);
  }
  SetGauges(registry, security.tls(), security.auth());
}

void WarnIfInsecure(const std::string& daemon, const ClientSecurity& security, prometheus::Registry* registry) {
  if (!security.tls()) {
    spdlog::warn("weir-{} connects to the coordinator and the stores without TLS (set --tls-ca)", daemon);
  }
  if (security.token_file.empty()) {
    spdlog::warn("weir-{} sends no token: servers with --tokens-file will refuse it (set --token-file)", daemon);
  }
  SetGauges(registry, security.tls(), !security.token_file.empty());
}

}  // namespace weir
