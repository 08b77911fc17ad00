// HttpStatusServer: a daemon's HTTP side (docs/operations.md): Prometheus
// text from a prometheus-cpp registry at /metrics, liveness at /healthz and
// readiness at /readyz, over plain HTTP or HTTPS. Boost.Beast on an Asio
// io_context of its own.
//
// Abuse never stops it: connections are bounded (the rest wait in the
// backlog), a failed accept is retried with a backoff, and a header over the
// limit gets 431 (limits in http_status_server.cc).
//
// Lifecycle: construct, Start() (binds, then serves on one thread it owns),
// Stop() (or the destructor) closes the listener and joins the thread.
// Thread-safe to call `ready` from the io thread: it must not block.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "common/status.h"
#include "daemon/prometheus_fwd.h"

namespace weir {

// The HTTP port over TLS: PEM certificate (chain) and key; an empty `cert` is plain HTTP.
struct HttpTls {
  std::string cert;
  std::string key;
};

class HttpStatusServer {
 public:
  // `ready` answers /readyz (200 when true, 503 when false); it runs on the
  // server's thread and must be quick and non-blocking. With `tls` files the
  // port serves HTTPS only (TLS 1.2 and later).
  HttpStatusServer(std::shared_ptr<prometheus::Registry> registry, std::function<bool()> ready, HttpTls tls = {});
  ~HttpStatusServer();
  HttpStatusServer(const HttpStatusServer&) = delete;
  HttpStatusServer& operator=(const HttpStatusServer&) = delete;

  // Listens on HOST:PORT (port 0 picks a free one). An error names the
  // address, or the TLS file that cannot be used.
  Status Start(const std::string& listen);
  // The bound address, HOST:PORT. REQUIRES: Start() succeeded.
  std::string address() const;
  // Stops serving; idempotent.
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace weir
