// The TLS and token flags, the same in every daemon and in weirctl; each
// also read from its environment variable (--tls-cert from WEIR_TLS_CERT,
// daemon_flags.h). Header-only: include it from a main.
#pragma once

#include <CLI/CLI.hpp>

#include "daemon/daemon_flags.h"
#include "daemon/security_options.h"

namespace weir {

// --tls-cert, --tls-key, --tls-client-ca, --tokens-file of a gRPC server.
inline void AddServerSecurityFlags(CLI::App& app, ServerSecurity& security) {
  AddDaemonFlag(app, "--tls-cert", security.tls_cert,
                "PEM certificate (chain) of this server; set with --tls-key to serve gRPC over TLS");
  AddDaemonFlag(app, "--tls-key", security.tls_key, "PEM private key of --tls-cert");
  AddDaemonFlag(app, "--tls-client-ca", security.tls_client_ca,
                "PEM CA: clients must present a certificate it signed (mutual TLS)");
  AddDaemonFlag(app, "--tokens-file", security.tokens_file,
                "File of bearer tokens, one `TOKEN ROLE[,ROLE...]` per line (roles: admin, worker, reader, "
                "importer); set: every call needs a token with the method's role");
}

// --tls-ca, --tls-cert, --tls-key, --token-file of a gRPC client.
inline void AddClientSecurityFlags(CLI::App& app, ClientSecurity& security) {
  AddDaemonFlag(app, "--tls-ca", security.tls_ca,
                "PEM CA that signed the servers' certificates; set: connect over TLS");
  AddDaemonFlag(app, "--tls-cert", security.tls_cert, "PEM client certificate, for servers that require one (mTLS)");
  AddDaemonFlag(app, "--tls-key", security.tls_key, "PEM private key of --tls-cert");
  AddDaemonFlag(app, "--token-file", security.token_file,
                "File whose first line is this client's bearer token (never pass a token on the command line)");
}

}  // namespace weir
