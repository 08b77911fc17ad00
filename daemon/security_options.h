// What a daemon or client is told about TLS and tokens (docs/operations.md,
// "Security"): file paths only, each a flag and an environment variable
// (security_flags.h). Plain values; no gRPC.
#pragma once

#include <string>

#include "common/status.h"

namespace weir {

// A gRPC server's side (weir-coordinator, weir-featurestore).
struct ServerSecurity {
  std::string tls_cert;       // PEM certificate chain; empty: plaintext
  std::string tls_key;        // PEM private key of tls_cert
  std::string tls_client_ca;  // PEM CA; set: clients must present a certificate it signed (mTLS)
  std::string tokens_file;    // `TOKEN ROLE[,ROLE...]` lines (daemon/auth.h); empty: no authorization
  bool metrics_tls = false;   // the HTTP status port serves HTTPS with tls_cert and tls_key

  bool tls() const { return !tls_cert.empty(); }
  bool auth() const { return !tokens_file.empty(); }
  // A key without a certificate and the like: an error naming the flags.
  [[nodiscard]] Status Validate() const {
    if (tls_cert.empty() != tls_key.empty()) {
      return InvalidArgument("--tls-cert and --tls-key go together (the server's certificate and its key)");
    }
    if (!tls_client_ca.empty() && tls_cert.empty()) {
      return InvalidArgument("--tls-client-ca needs --tls-cert and --tls-key (client certificates need TLS)");
    }
    if (metrics_tls && tls_cert.empty()) {
      return InvalidArgument("--metrics-tls needs --tls-cert and --tls-key (the certificate HTTPS serves)");
    }
    return Status::Ok();
  }
};

// A gRPC client's side (weirctl, weir-worker).
struct ClientSecurity {
  std::string tls_ca;        // PEM CA that signed the servers' certificates; set: TLS
  std::string tls_cert;      // PEM client certificate, for servers that require one (mTLS)
  std::string tls_key;       // its PEM private key
  std::string token_file;    // the bearer token, first line; empty: none sent
  bool metrics_tls = false;  // the worker's HTTP status port serves HTTPS with tls_cert and tls_key

  bool tls() const { return !tls_ca.empty(); }
  [[nodiscard]] Status Validate() const {
    if (tls_cert.empty() != tls_key.empty()) {
      return InvalidArgument("--tls-cert and --tls-key go together (the client's certificate and its key)");
    }
    if (!tls_cert.empty() && tls_ca.empty()) {
      return InvalidArgument("--tls-cert needs --tls-ca (a client certificate is sent over TLS only)");
    }
    if (metrics_tls && tls_cert.empty()) {
      return InvalidArgument("--metrics-tls needs --tls-cert and --tls-key (the certificate HTTPS serves)");
    }
    return Status::Ok();
  }
};

}  // namespace weir
