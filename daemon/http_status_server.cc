#include "daemon/http_status_server.h"

#include <algorithm>
#include <array>
#include <optional>
#include <thread>
#include <type_traits>

#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <spdlog/spdlog.h>
#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <boost/beast/ssl.hpp>

#include "daemon/grpc_util.h"

namespace weir {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// A request's header (request line included) larger than this is answered
// 431; a body larger than kBodyLimit ends the connection (GET takes none).
constexpr uint32_t kHeaderLimit = 8 * 1024;
constexpr uint64_t kBodyLimit = uint64_t{64} * 1024;
// Connections served at once; further ones wait in the kernel's backlog until
// one closes, so a burst cannot take every file descriptor.
constexpr int kMaxConnections = 64;
// An idle or slow connection is closed after this.
constexpr auto kReadTimeout = std::chrono::seconds(10);
// After a failed accept (no file descriptors left, say), the next try waits
// this long, doubling up to the maximum; a successful accept resets it.
constexpr auto kMinAcceptBackoff = std::chrono::milliseconds(10);
constexpr auto kMaxAcceptBackoff = std::chrono::milliseconds(1000);

// One connection over `Stream` (a plain TCP stream, or TLS over one): reads
// requests and answers them until the peer closes. Owned by the shared_ptr
// its pending async operations hold; `on_close` runs when it is destroyed (on
// the io thread, or when the io_context is torn down).
template <typename Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
 public:
  template <typename... StreamArgs>
  Session(std::shared_ptr<prometheus::Registry> registry, std::function<bool()> ready, std::function<void()> on_close,
          StreamArgs&&... stream_args)
      : stream_(std::forward<StreamArgs>(stream_args)...),
        registry_(std::move(registry)),
        ready_(std::move(ready)),
        on_close_(std::move(on_close)) {}
  ~Session() { on_close_(); }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Reads the first request, after the TLS handshake over TLS.
  void Start() {
    if constexpr (kTls) {
      beast::get_lowest_layer(stream_).expires_after(kReadTimeout);
      stream_.async_handshake(asio::ssl::stream_base::server, [self = this->shared_from_this()](beast::error_code ec) {
        if (!ec) self->Read();
      });
    } else {
      Read();
    }
  }

 private:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

  void Read() {
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(kBodyLimit);
    beast::get_lowest_layer(stream_).expires_after(kReadTimeout);
    http::async_read(stream_, buffer_, *parser_, [self = this->shared_from_this()](beast::error_code ec, size_t) {
      if (ec == http::error::header_limit) {
        self->RefuseHeader();
      } else if (!ec) {
        self->Answer();
      }
    });
  }

  // 431, then close: the rest of the oversize header is never read.
  void RefuseHeader() {
    response_ = {};
    response_.version(11);
    response_.keep_alive(false);
    response_.set(http::field::server, "weir");
    Reply(http::status::request_header_fields_too_large, "text/plain",
          "request header larger than " + std::to_string(kHeaderLimit) + " bytes\n");
    Write();
  }

  void Answer() {
    const http::request<http::string_body>& request = parser_->get();
    response_ = {};
    response_.version(request.version());
    response_.keep_alive(request.keep_alive());
    response_.set(http::field::server, "weir");
    const std::string target(request.target());
    const std::string path = target.substr(0, target.find('?'));
    if (request.method() != http::verb::get && request.method() != http::verb::head) {
      Reply(http::status::method_not_allowed, "text/plain", "only GET and HEAD\n");
    } else if (path == "/metrics") {
      prometheus::TextSerializer serializer;
      Reply(http::status::ok, "text/plain; version=0.0.4", serializer.Serialize(registry_->Collect()));
    } else if (path == "/healthz") {
      Reply(http::status::ok, "text/plain", "ok\n");
    } else if (path == "/readyz") {
      const bool ready = ready_();
      Reply(ready ? http::status::ok : http::status::service_unavailable, "text/plain",
            ready ? "ready\n" : "not ready\n");
    } else {
      Reply(http::status::not_found, "text/plain", "not found: try /metrics, /healthz or /readyz\n");
    }
    Write();
  }

  void Write() {
    http::async_write(stream_, response_, [self = this->shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return;
      if (!self->response_.keep_alive()) {
        beast::error_code ignored;
        beast::get_lowest_layer(self->stream_).socket().shutdown(tcp::socket::shutdown_send, ignored);
        self->Drain();
        return;
      }
      self->Read();
    });
  }

  // Reads and drops what the peer still sends until it closes (or the read
  // timeout), so closing never resets a connection whose answer (a 431) is
  // still unread on the other side.
  void Drain() {
    beast::get_lowest_layer(stream_).expires_after(kReadTimeout);
    beast::get_lowest_layer(stream_).async_read_some(asio::buffer(drain_),
                                                     [self = this->shared_from_this()](beast::error_code ec, size_t) {
                                                       if (!ec) self->Drain();
                                                     });
  }

  void Reply(http::status status, const char* type, std::string body) {
    response_.result(status);
    response_.set(http::field::content_type, type);
    response_.body() = std::move(body);
    response_.prepare_payload();
  }

  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;  // one per request
  http::response<http::string_body> response_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::function<bool()> ready_;
  std::function<void()> on_close_;
  std::array<char, 4096> drain_{};
};

}  // namespace

// Everything below runs on the io thread only (one thread runs `io`), so the
// counters need no lock.
struct HttpStatusServer::Impl {
  std::shared_ptr<prometheus::Registry> registry;
  std::function<bool()> ready;
  HttpTls tls_files;
  std::optional<asio::ssl::context> tls;  // set by Start() when tls_files name a certificate
  // Declared before `io`: sessions destroyed with `io` still decrement them.
  int connections = 0;     // sessions alive
  bool accepting = false;  // an accept (or its backoff) is pending
  bool stopping = false;   // set by Stop(); nothing new starts after it
  std::chrono::milliseconds backoff{0};
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  asio::steady_timer retry{io};
  std::thread thread;  // runs `io`; joined by Stop()

  // Accepts one connection, unless kMaxConnections are open (a closing one
  // calls it again). An accept error never ends serving: it is logged and
  // the accept retried after a backoff.
  void Accept() {
    if (stopping || accepting || connections >= kMaxConnections) return;
    accepting = true;
    acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
      accepting = false;
      if (stopping || ec == asio::error::operation_aborted) return;  // Stop() closed the acceptor
      if (ec) {
        backoff = std::clamp(backoff * 2, kMinAcceptBackoff, kMaxAcceptBackoff);
        spdlog::warn(
            "HTTP status server: accept failed: {} (retrying in {} ms; out of file descriptors? raise "
            "ulimit -n)",
            ec.message(), backoff.count());
        accepting = true;
        retry.expires_after(backoff);
        retry.async_wait([this](beast::error_code) {
          accepting = false;
          Accept();
        });
        return;
      }
      backoff = std::chrono::milliseconds(0);
      ++connections;
      auto on_close = [this] {
        --connections;
        if (!stopping) Accept();
      };
      if (tls.has_value()) {
        std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(registry, ready, on_close, std::move(socket),
                                                                        *tls)
            ->Start();
      } else {
        std::make_shared<Session<beast::tcp_stream>>(registry, ready, on_close, std::move(socket))->Start();
      }
      Accept();
    });
  }

  // The TLS context of tls_files; an error names the file.
  Status LoadTls() {
    auto cert = ReadPemFile(tls_files.cert, "the HTTP server certificate (--tls-cert)");
    if (!cert.ok()) return cert.status();
    auto key = ReadPemFile(tls_files.key, "the HTTP server key (--tls-key)");
    if (!key.ok()) return key.status();
    asio::ssl::context context(asio::ssl::context::tls_server);
    context.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                        asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
    beast::error_code ec;
    context.use_certificate_chain(asio::buffer(*cert), ec);
    if (ec) return InvalidArgument("\"" + tls_files.cert + "\" is not a usable certificate: " + ec.message());
    context.use_private_key(asio::buffer(*key), asio::ssl::context::pem, ec);
    if (ec) return InvalidArgument("\"" + tls_files.key + "\" is not a usable key for it: " + ec.message());
    tls.emplace(std::move(context));
    return Status::Ok();
  }
};

HttpStatusServer::HttpStatusServer(std::shared_ptr<prometheus::Registry> registry, std::function<bool()> ready,
                                   HttpTls tls)
    : impl_(std::make_unique<Impl>()) {
  impl_->registry = std::move(registry);
  impl_->ready = std::move(ready);
  impl_->tls_files = std::move(tls);
}

HttpStatusServer::~HttpStatusServer() { Stop(); }

Status HttpStatusServer::Start(const std::string& listen) {
  if (!impl_->tls_files.cert.empty()) WEIR_RETURN_IF_ERROR(impl_->LoadTls());
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos) return InvalidArgument("\"" + listen + "\" is not HOST:PORT");
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  beast::error_code ec;
  const auto address = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
  if (ec) return InvalidArgument("\"" + listen + "\": \"" + host + "\" is not an IP address");
  int port = 0;
  try {
    port = std::stoi(listen.substr(colon + 1));
  } catch (const std::exception&) {
    return InvalidArgument("\"" + listen + "\": the port is not a number");
  }
  if (port < 0 || port > 65535) return InvalidArgument("\"" + listen + "\": the port is out of range");
  tcp::acceptor& acceptor = impl_->acceptor;
  const tcp::endpoint endpoint(address, static_cast<uint16_t>(port));
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Unavailable("cannot listen for HTTP on " + listen + ": " + ec.message());
  impl_->Accept();
  impl_->thread = std::thread([this] { impl_->io.run(); });
  return Status::Ok();
}

std::string HttpStatusServer::address() const {
  beast::error_code ec;
  const tcp::endpoint ep = impl_->acceptor.local_endpoint(ec);
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

void HttpStatusServer::Stop() {
  if (!impl_->thread.joinable()) return;
  asio::post(impl_->io, [this] {
    impl_->stopping = true;
    beast::error_code ignored;
    impl_->acceptor.close(ignored);
    impl_->retry.cancel();
    impl_->io.stop();
  });
  impl_->thread.join();
}

}  // namespace weir
