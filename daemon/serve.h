// What every gRPC daemon starts first: its HTTP status server, then its gRPC
// server, each registered in the daemon's ServiceStack so that they stop in
// reverse order.
#pragma once

#include <string>

#include "common/status.h"
#include "daemon/grpc_server.h"
#include "daemon/http_status_server.h"
#include "daemon/service_stack.h"

namespace weir {

// Starts `http` on `metrics_listen`, then `grpc` on `listen`. An error names
// the service and the address; what had started is stopped by `stack`.
[[nodiscard]] inline Status StartHttpAndGrpc(ServiceStack& stack, HttpStatusServer& http,
                                             const std::string& metrics_listen, GrpcServer& grpc,
                                             const std::string& listen) {
  WEIR_RETURN_IF_ERROR(stack.Start(
      "HTTP status server", [&] { return http.Start(metrics_listen); }, [&http] { http.Stop(); }));
  return stack.Start(
      "gRPC server", [&] { return grpc.Start(listen); }, [&grpc] { grpc.Stop(); });
}

}  // namespace weir
