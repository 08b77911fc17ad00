#include "daemon/grpc_server.h"

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include <utility>

namespace weir {

GrpcServer::GrpcServer(std::vector<grpc::Service*> services, Options options)
    : services_(std::move(services)), options_(options) {}

GrpcServer::~GrpcServer() { Stop(); }

Status GrpcServer::Start(const std::string& listen) {
  grpc::ServerBuilder builder;
  if (options_.exclusive_port) builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  if (options_.max_receive_message_bytes > 0) {
    builder.SetMaxReceiveMessageSize(static_cast<int>(options_.max_receive_message_bytes));
  }
  int port = 0;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  for (grpc::Service* service : services_) builder.RegisterService(service);
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port == 0) {
    Stop();
    return Unavailable("cannot listen on " + listen + " (is the address valid and the port free?)");
  }
  address_ = listen.substr(0, listen.rfind(':')) + ":" + std::to_string(port);
  return Status::Ok();
}

void GrpcServer::Stop() {
  if (server_ == nullptr) return;
  server_->Shutdown(std::chrono::system_clock::now() + options_.shutdown_grace);
  server_->Wait();
  server_.reset();
}

}  // namespace weir
