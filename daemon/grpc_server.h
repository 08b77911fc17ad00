// GrpcServer: a daemon's gRPC server, built, started and stopped the same way
// in every daemon (plaintext or TLS, on one HOST:PORT, gRPC's own thread pool
// running the handlers).
//
// Lifecycle: construct, Start() once, Stop() (or the destructor) shuts it
// down. The services must outlive it. Start() and Stop() are called from
// one thread (main's, through a ServiceStack).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/server.h>

#include "common/status.h"
#include "daemon/security_options.h"

namespace weir {

class GrpcServer {
 public:
  struct Options {
    // Refuse SO_REUSEPORT, so a second daemon cannot bind the same port and
    // silently split the traffic.
    bool exclusive_port = false;
    // How long Stop() lets calls in flight finish before cancelling them.
    std::chrono::milliseconds shutdown_grace{5000};
    // TLS: tls_cert, tls_key and tls_client_ca (mTLS) are read by Start();
    // none set is plaintext. tokens_file is not the server's business (the
    // services' Authorizer, grpc_auth.h).
    ServerSecurity security;
    // The largest message a call may receive; 0: gRPC's default (4 MiB).
    size_t max_receive_message_bytes = 0;
  };

  GrpcServer(std::vector<grpc::Service*> services, Options options);
  ~GrpcServer();
  GrpcServer(const GrpcServer&) = delete;
  GrpcServer& operator=(const GrpcServer&) = delete;

  // Listens on `listen`, HOST:PORT (port 0 picks a free one), and serves.
  // An error names the address, or the TLS file that cannot be read.
  Status Start(const std::string& listen);
  // HOST:PORT as bound (the port resolved). REQUIRES: Start() succeeded.
  std::string address() const { return address_; }
  // Stops accepting calls, waits up to the grace period for those in flight,
  // cancels the rest and returns once none runs; idempotent.
  void Stop();

 private:
  const std::vector<grpc::Service*> services_;
  const Options options_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
};

}  // namespace weir
