#include "daemon/grpc_server.h"

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include <utility>

#include "daemon/grpc_util.h"

namespace weir {

GrpcServer::GrpcServer(std::vector<grpc::Service*> services, Options options)
    : services_(std::move(services)), options_(std::move(options)) {}

GrpcServer::~GrpcServer() { Stop(); }

namespace {

// The server's credentials: plaintext, TLS, or TLS requiring a client
// certificate signed by tls_client_ca.
Result<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(const ServerSecurity& security) {
  WEIR_RETURN_IF_ERROR(security.Validate());
  if (!security.tls()) return grpc::InsecureServerCredentials();
  auto cert = ReadPemFile(security.tls_cert, "the server certificate (--tls-cert)");
  if (!cert.ok()) return cert.status();
  auto key = ReadPemFile(security.tls_key, "the server key (--tls-key)");
  if (!key.ok()) return key.status();
  grpc::SslServerCredentialsOptions ssl(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  if (!security.tls_client_ca.empty()) {
    auto ca = ReadPemFile(security.tls_client_ca, "the client CA (--tls-client-ca)");
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = std::move(*ca);
    ssl.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  ssl.pem_key_cert_pairs.push_back({std::move(*key), std::move(*cert)});
  return grpc::SslServerCredentials(ssl);
}

}  // namespace

Status GrpcServer::Start(const std::string& listen) {
  auto credentials = MakeServerCredentials(options_.security);
  if (!credentials.ok()) return credentials.status();
  grpc::ServerBuilder builder;
  if (options_.exclusive_port) builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  if (options_.max_receive_message_bytes > 0) {
    builder.SetMaxReceiveMessageSize(static_cast<int>(options_.max_receive_message_bytes));
  }
  int port = 0;
  builder.AddListeningPort(listen, *credentials, &port);
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
