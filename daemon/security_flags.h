// The TLS and token flags, the same in every daemon and in weirctl; each
// also read from its environment variable (--tls-cert from WEIR_TLS_CERT,
// daemon_flags.h). Header-only: include it from a main.
#pragma once

#include <CLI/CLI.hpp>

#include "daemon/daemon_flags.h"
#include "daemon/http_status_server.h"
#include "daemon/security_options.h"

namespace weir {

// --metrics-tls: the HTTP status port over TLS, with --tls-cert and --tls-key.
inline void AddMetricsTlsFlag(CLI::App& app, bool& metrics_tls) {
  app.add_flag("--metrics-tls", metrics_tls,
               "Serve --metrics-listen (/metrics, /healthz, /readyz) over HTTPS with --tls-cert and --tls-key")
      ->envname(FlagEnvName("--metrics-tls"));
}

// --tls-cert, --tls-key, --tls-client-ca, --tokens-file, --metrics-tls of a gRPC server.
inline void AddServerSecurityFlags(CLI::App& app, ServerSecurity& security) {
  AddDaemonFlag(app, "--tls-cert", security.tls_cert,
                "PEM certificate (chain) of this server; set with --tls-key to serve gRPC over TLS");
  AddDaemonFlag(app, "--tls-key", security.tls_key, "PEM private key of --tls-cert");
  AddDaemonFlag(app, "--tls-client-ca", security.tls_client_ca,
                "PEM CA: clients must present a certificate it signed (mutual TLS)");
  AddDaemonFlag(app, "--tokens-file", security.tokens_file,
                "File of bearer tokens, one `TOKEN ROLE[,ROLE...]` per line (roles: admin, worker, reader, "
                "importer); set: every call needs a token with the method's role");
  AddMetricsTlsFlag(app, security.metrics_tls);
}

// --tls-ca, --tls-cert, --tls-key, --token-file of a gRPC client; with
// `http_server` (weir-worker) also --metrics-tls.
inline void AddClientSecurityFlags(CLI::App& app, ClientSecurity& security, bool http_server = false) {
  AddDaemonFlag(app, "--tls-ca", security.tls_ca,
                "PEM CA that signed the servers' certificates; set: connect over TLS");
  AddDaemonFlag(app, "--tls-cert", security.tls_cert, "PEM client certificate, for servers that require one (mTLS)");
  AddDaemonFlag(app, "--tls-key", security.tls_key, "PEM private key of --tls-cert");
  AddDaemonFlag(app, "--token-file", security.token_file,
                "File whose first line is this client's bearer token (never pass a token on the command line)");
  if (http_server) AddMetricsTlsFlag(app, security.metrics_tls);
}

// The HTTP status server's TLS files per `security` (none without --metrics-tls).
template <typename Security>
HttpTls MetricsTls(const Security& security) {
  if (!security.metrics_tls) return {};
  return {security.tls_cert, security.tls_key};
}

}  // namespace weir
