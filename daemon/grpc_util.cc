#include "daemon/grpc_util.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <grpcpp/support/client_interceptor.h>

#include "daemon/auth.h"
#include "daemon/rpc_metadata.h"

namespace weir {

grpc::Status ToGrpcStatus(const Status& s) {
  switch (s.code()) {
    case StatusCode::kOk: return grpc::Status::OK;
    case StatusCode::kInvalidArgument: return {grpc::StatusCode::INVALID_ARGUMENT, s.message()};
    case StatusCode::kNotFound: return {grpc::StatusCode::NOT_FOUND, s.message()};
    case StatusCode::kAlreadyExists: return {grpc::StatusCode::ALREADY_EXISTS, s.message()};
    case StatusCode::kFailedPrecondition: return {grpc::StatusCode::FAILED_PRECONDITION, s.message()};
    case StatusCode::kDataLoss: return {grpc::StatusCode::DATA_LOSS, s.message()};
    case StatusCode::kUnavailable: return {grpc::StatusCode::UNAVAILABLE, s.message()};
    case StatusCode::kInternal: return {grpc::StatusCode::INTERNAL, s.message()};
  }
  return {grpc::StatusCode::INTERNAL, s.message()};
}

namespace {

std::string_view GrpcCodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK: return "OK";
    case grpc::StatusCode::CANCELLED: return "CANCELLED";
    case grpc::StatusCode::UNKNOWN: return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED: return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE: return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED: return "UNIMPLEMENTED (is this the right service at that address?)";
    case grpc::StatusCode::INTERNAL: return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS: return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED: return "UNAUTHENTICATED";
    default: return "UNKNOWN";
  }
}

}  // namespace

Status FromGrpcStatus(const grpc::Status& s) {
  std::string message = s.error_message();
  if (message.empty()) message = std::string(GrpcCodeName(s.error_code()));
  switch (s.error_code()) {
    case grpc::StatusCode::OK: return Status::Ok();
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::OUT_OF_RANGE: return InvalidArgument(std::move(message));
    case grpc::StatusCode::NOT_FOUND: return NotFound(std::move(message));
    case grpc::StatusCode::ALREADY_EXISTS: return AlreadyExists(std::move(message));
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::PERMISSION_DENIED:
    case grpc::StatusCode::UNAUTHENTICATED:
    case grpc::StatusCode::ABORTED: return FailedPrecondition(std::move(message));
    case grpc::StatusCode::DATA_LOSS: return DataLoss(std::move(message));
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
    case grpc::StatusCode::CANCELLED: return Unavailable(std::move(message));
    default: return Internal(std::move(message));
  }
}

namespace {

// Adds `authorization: Bearer TOKEN` to every call's initial metadata.
class BearerTokenInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit BearerTokenInterceptor(const std::string* header) : header_(header) {}
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(grpc::experimental::InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->insert({kAuthorizationKey, *header_});
    }
    methods->Proceed();
  }

 private:
  const std::string* header_;
};

class BearerTokenFactory final : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit BearerTokenFactory(const std::string* header) : header_(header) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(grpc::experimental::ClientRpcInfo*) override {
    return new BearerTokenInterceptor(header_);
  }

 private:
  const std::string* header_;
};

// What ConfigureClientChannels read. Set once by main before any channel
// exists, then only read: no lock.
struct ClientChannelConfig {
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  std::string authorization;  // "Bearer TOKEN"; empty: none
};

ClientChannelConfig& ChannelConfig() {
  static ClientChannelConfig config;
  return config;
}

}  // namespace

Result<std::string> ReadPemFile(const std::string& path, const std::string& what) {
  std::ifstream in(path);
  if (!in) return NotFound("cannot read " + what + " \"" + path + "\": " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (text.str().find("-----BEGIN ") == std::string::npos) {
    return InvalidArgument(what + " \"" + path + "\" is not a PEM file (no -----BEGIN line)");
  }
  return text.str();
}

Status ConfigureClientChannels(const ClientSecurity& security) {
  WEIR_RETURN_IF_ERROR(security.Validate());
  ClientChannelConfig config;
  if (security.tls()) {
    grpc::SslCredentialsOptions ssl;
    auto ca = ReadPemFile(security.tls_ca, "the CA certificate (--tls-ca)");
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = std::move(*ca);
    if (!security.tls_cert.empty()) {
      auto cert = ReadPemFile(security.tls_cert, "the client certificate (--tls-cert)");
      if (!cert.ok()) return cert.status();
      auto key = ReadPemFile(security.tls_key, "the client key (--tls-key)");
      if (!key.ok()) return key.status();
      ssl.pem_cert_chain = std::move(*cert);
      ssl.pem_private_key = std::move(*key);
    }
    config.credentials = grpc::SslCredentials(ssl);
  }
  if (!security.token_file.empty()) {
    auto token = ReadTokenFile(security.token_file);
    if (!token.ok()) return token.status();
    config.authorization = "Bearer " + *token;
  }
  ChannelConfig() = std::move(config);
  return Status::Ok();
}

std::shared_ptr<grpc::Channel> MakeChannel(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetMaxSendMessageSize(-1);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  const ClientChannelConfig& config = ChannelConfig();
  auto credentials = config.credentials != nullptr ? config.credentials : grpc::InsecureChannelCredentials();
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> interceptors;
  if (!config.authorization.empty()) {
    interceptors.push_back(std::make_unique<BearerTokenFactory>(&config.authorization));
  }
  return grpc::experimental::CreateCustomChannelWithInterceptors(address, credentials, args, std::move(interceptors));
}

}  // namespace weir
