// weir-devkafka: a local Kafka for development and tests, built on
// librdkafka's mock cluster (a real Kafka protocol server, in memory).
//
// librdkafka's mock brokers listen on 127.0.0.1 at ports of their own
// choosing; so that clients can bootstrap from a fixed address (--port,
// default 9092), this process also relays TCP connections on that port to the
// first broker. Clients then follow the brokers' advertised addresses from
// metadata.
//
// With --advertise HOST (clients on other hosts, e.g. Kubernetes pods behind
// a Service), broker i is relayed on port --port + i - 1 instead, and the
// relays rewrite the broker addresses in Metadata and FindCoordinator
// responses to HOST:(port + i - 1), as a Kafka proxy does: the mock brokers
// still advertise 127.0.0.1, which other hosts cannot reach.
//
// Limits of the mock cluster (librdkafka 2.0): about 5 MiB kept per
// partition (fixed in librdkafka, no setting; printed at startup), aborted
// transactions are not filtered, data lives in memory only.
//
// Fault injection (chaos tests): SIGUSR1 takes the last broker down (its
// connections drop and it refuses new ones), SIGUSR2 brings it back up.
//
// Threads: the main thread waits for signals; one Asio thread runs every
// relay (and so every ResponseRewriter call).
#include <chrono>
#include <csignal>
#include <cstdint>
#include <deque>
#include <iostream>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <CLI/CLI.hpp>
#include <boost/asio.hpp>

#include "daemon/stop_signals.h"
#include "tools/devkafka/kafka_rewrite.h"

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using weir::devkafka::AdvertisedBrokers;
using weir::devkafka::Api;
using weir::devkafka::ReadInt32;
using weir::devkafka::ResponseRewriter;

// ---------------------------------------------------------------------------
// TCP relay.

// Relays bytes both ways between a client and a broker until either side
// closes. Kept alive by the handlers that hold it; runs on the Asio thread.
// Without a rewriter bytes pass unchanged. With one, the relay splits both
// directions into Kafka frames ([int32 size][payload]), notes which requests
// are Metadata/FindCoordinator by correlation id, and rewrites the matching
// responses. (Produce with acks=0 has no response; it is never noted.)
class Relay : public std::enable_shared_from_this<Relay> {
 public:
  Relay(tcp::socket client, asio::io_context& io, ResponseRewriter* rewriter)
      : client_(std::move(client)),
        broker_(io),
        rewriter_(rewriter),
        up_{client_, broker_, /*requests=*/true, /*framed=*/rewriter != nullptr, {}, {}},
        down_{broker_, client_, /*requests=*/false, /*framed=*/rewriter != nullptr, {}, {}} {}

  void Start(const tcp::endpoint& broker) {
    broker_.async_connect(broker, [self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec) return self->Close();
      self->Pump(self->up_);
      self->Pump(self->down_);
    });
  }

 private:
  // One direction of the relay. `in` holds bytes read but not yet framed;
  // `out` the bytes being written.
  struct Direction {
    tcp::socket& from;
    tcp::socket& to;
    const bool requests;  // client -> broker
    bool framed;          // false: pass bytes unchanged
    std::vector<uint8_t> in;
    std::vector<uint8_t> out;
  };

  static constexpr size_t kReadChunk = size_t{64} * 1024;
  static constexpr int32_t kMaxFrame = 512 * 1024 * 1024;

  void Pump(Direction& d) {
    const size_t old = d.in.size();
    d.in.resize(old + kReadChunk);
    d.from.async_read_some(asio::buffer(d.in.data() + old, kReadChunk),
                           [self = shared_from_this(), &d, old](const boost::system::error_code& ec, size_t n) {
                             if (ec) return self->Close();
                             d.in.resize(old + n);
                             self->TakeFrames(d);
                             if (d.out.empty()) return self->Pump(d);  // no complete frame yet
                             asio::async_write(d.to, asio::buffer(d.out),
                                               [self, &d](const boost::system::error_code& wec, size_t) {
                                                 if (wec) return self->Close();
                                                 d.out.clear();
                                                 self->Pump(d);
                                               });
                           });
  }

  // Moves the complete frames of d.in to d.out (responses rewritten), or
  // all of d.in when the direction is not framed. REQUIRES: d.out empty.
  void TakeFrames(Direction& d) {
    size_t pos = 0;
    while (d.framed && d.in.size() - pos >= 4) {
      const uint8_t* frame = d.in.data() + pos;
      const int32_t size = ReadInt32(frame);
      if (size < (d.requests ? 8 : 4) || size > kMaxFrame) {
        rewriter_->LogOnce("a connection sent bytes that are not Kafka frames; passing them unchanged");
        d.framed = false;
        break;
      }
      if (d.in.size() - pos - 4 < static_cast<size_t>(size)) break;  // incomplete
      const size_t frame_size = 4 + static_cast<size_t>(size);
      if (d.requests) {
        NoteRequest(frame);
        d.out.insert(d.out.end(), frame, frame + frame_size);
      } else if (auto it = pending_.find(ReadInt32(frame + 4)); it != pending_.end()) {
        const std::vector<uint8_t> rewritten = rewriter_->Rewrite(it->second, frame, frame_size);
        pending_.erase(it);
        d.out.insert(d.out.end(), rewritten.begin(), rewritten.end());
      } else {
        d.out.insert(d.out.end(), frame, frame + frame_size);
      }
      pos += frame_size;
    }
    if (d.framed) {
      d.in.erase(d.in.begin(), d.in.begin() + static_cast<std::ptrdiff_t>(pos));  // keep the incomplete frame
    } else if (pos == 0 && d.out.empty()) {
      d.out.swap(d.in);  // the common case without --advertise: no copy
    } else {
      d.out.insert(d.out.end(), d.in.begin() + static_cast<std::ptrdiff_t>(pos), d.in.end());
      d.in.clear();
    }
  }

  void NoteRequest(const uint8_t* frame) {
    const weir::devkafka::RequestHeader header = weir::devkafka::ReadRequestHeader(frame);
    if (rewriter_->Wants(header.api)) pending_[header.correlation_id] = header.api;
  }

  void Close() {
    boost::system::error_code ignored;
    client_.close(ignored);
    broker_.close(ignored);
  }

  tcp::socket client_;
  tcp::socket broker_;
  ResponseRewriter* const rewriter_;  // null: no --advertise
  Direction up_;
  Direction down_;
  std::unordered_map<int32_t, Api> pending_;  // correlation id -> request whose response to rewrite
};

// Accepts clients for one broker until the acceptor is closed. Any other
// error (a client that reset before accept, descriptors running out) skips
// that one connection: the accept loop itself never ends early, which left a
// broker unreachable for good after a broker-down fault's reconnect storm.
void Accept(tcp::acceptor& acceptor, asio::io_context& io, const tcp::endpoint& broker, ResponseRewriter* rewriter) {
  acceptor.async_accept([&acceptor, &io, broker, rewriter](const boost::system::error_code& ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;  // closed
    if (!ec) {
      std::make_shared<Relay>(std::move(socket), io, rewriter)->Start(broker);
      return Accept(acceptor, io, broker, rewriter);
    }
    std::cerr << "weir-devkafka: accepting a client on port " << acceptor.local_endpoint().port()
              << " failed: " << ec.message() << "; accepting again\n";
    // Out of descriptors, accept fails at once until one is freed: back off.
    auto retry = std::make_shared<asio::steady_timer>(io, std::chrono::milliseconds(50));
    retry->async_wait([retry, &acceptor, &io, broker, rewriter](const boost::system::error_code&) {
      Accept(acceptor, io, broker, rewriter);
    });
  });
}

// "host:port[,host:port...]" -> the endpoints, in order (the mock cluster
// lists its brokers by id, 1..N).
bool ParseEndpoints(const std::string& bootstraps, std::vector<tcp::endpoint>* out) {
  size_t begin = 0;
  while (begin <= bootstraps.size()) {
    const size_t end = std::min(bootstraps.find(',', begin), bootstraps.size());
    const std::string one = bootstraps.substr(begin, end - begin);
    const size_t colon = one.rfind(':');
    if (colon == std::string::npos) return false;
    boost::system::error_code ec;
    std::string host = one.substr(0, colon);
    if (host == "localhost") host = "127.0.0.1";
    const auto address = asio::ip::make_address(host, ec);
    if (ec) return false;
    try {
      out->emplace_back(address, static_cast<uint16_t>(std::stoi(one.substr(colon + 1))));
    } catch (const std::exception&) {
      return false;
    }
    begin = end + 1;
  }
  return !out->empty();
}

// Opens, binds and listens; false with `ec` set when any step fails.
bool Listen(tcp::acceptor& acceptor, const tcp::endpoint& endpoint, boost::system::error_code& ec) {
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  return !ec;
}

// "HOST:PORT" as a client on this host would dial it: a wildcard listen
// address is reached through loopback.
std::string DialAddress(const asio::ip::address& listen, int port) {
  if (listen.is_unspecified()) return (listen.is_v4() ? "127.0.0.1:" : "[::1]:") + std::to_string(port);
  if (listen.is_v6()) return "[" + listen.to_string() + "]:" + std::to_string(port);
  return listen.to_string() + ":" + std::to_string(port);
}

}  // namespace

int main(int argc, char** argv) {  // NOLINT(bugprone-exception-escape): an exception here is a bug; let it abort loudly
  CLI::App app{"weir-devkafka: a local Kafka (librdkafka's mock cluster) for development and tests"};
  int port = 9092;
  int brokers = 1;
  std::string listen_host = "127.0.0.1";
  std::string advertise;
  std::vector<std::string> topics;
  app.add_option("--port", port,
                 "Fixed bootstrap port on --listen-host (0 picks a free one); with --advertise, broker i is on "
                 "port + i - 1")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535))
      ->envname("WEIR_DEVKAFKA_PORT");
  app.add_option("--brokers", brokers, "Number of brokers")
      ->capture_default_str()
      ->check(CLI::Range(1, 9))
      ->envname("WEIR_DEVKAFKA_BROKERS");
  app.add_option("--topic", topics, "A topic to create, NAME:PARTITIONS; repeatable")->envname("WEIR_DEVKAFKA_TOPICS");
  app.add_option("--listen-host", listen_host, "IP address the relay listens on (0.0.0.0: every interface)")
      ->capture_default_str()
      ->envname("WEIR_DEVKAFKA_LISTEN_HOST");
  app.add_option("--advertise", advertise,
                 "Host name clients elsewhere reach this process by (e.g. a Kubernetes Service); relays broker i on "
                 "port + i - 1 and advertises it as HOST:port+i-1 in metadata. Empty: the mock brokers' own "
                 "127.0.0.1 addresses")
      ->envname("WEIR_DEVKAFKA_ADVERTISE");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  boost::system::error_code ec;
  const asio::ip::address listen_address = asio::ip::make_address(listen_host, ec);
  if (ec) {
    std::cerr << "weir-devkafka: --listen-host \"" << listen_host
              << "\" is not an IP address (use 127.0.0.1, or 0.0.0.0 for every interface)\n";
    return 2;
  }
  if (!advertise.empty() && port == 0) {
    std::cerr << "weir-devkafka: --advertise needs a fixed --port (broker i is relayed on port + i - 1)\n";
    return 2;
  }
  if (!advertise.empty() && port + brokers - 1 > 65535) {
    std::cerr << "weir-devkafka: --port " << port << " leaves no room for " << brokers
              << " brokers (ports port..port+brokers-1); choose a lower --port\n";
    return 2;
  }

  // Before librdkafka and Asio start threads: they inherit the blocked signals.
  const weir::StopSignals signals({SIGUSR1, SIGUSR2});

  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr));
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
  if (rk == nullptr) {
    std::cerr << "weir-devkafka: cannot create a librdkafka handle: " << errstr << "\n";
    return 1;
  }
  rd_kafka_mock_cluster_t* cluster = rd_kafka_mock_cluster_new(rk, brokers);
  if (cluster == nullptr) {
    std::cerr << "weir-devkafka: cannot start the mock cluster\n";
    rd_kafka_destroy(rk);
    return 1;
  }
  for (const std::string& t : topics) {
    const size_t colon = t.rfind(':');
    int partitions = 0;
    try {
      partitions = colon == std::string::npos ? 0 : std::stoi(t.substr(colon + 1));
    } catch (const std::exception&) {
    }
    if (colon == std::string::npos || colon == 0 || partitions <= 0) {
      std::cerr << "weir-devkafka: --topic \"" << t << "\" is not NAME:PARTITIONS (e.g. events:4)\n";
      rd_kafka_mock_cluster_destroy(cluster);
      rd_kafka_destroy(rk);
      return 2;
    }
    const std::string name = t.substr(0, colon);
    const rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(cluster, name.c_str(), partitions, std::min(brokers, 3));
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::cerr << "weir-devkafka: cannot create topic " << name << ": " << rd_kafka_err2str(err) << "\n";
      return 1;
    }
  }
  const std::string broker_list = rd_kafka_mock_cluster_bootstraps(cluster);
  std::vector<tcp::endpoint> mock_brokers;
  if (!ParseEndpoints(broker_list, &mock_brokers) || static_cast<int>(mock_brokers.size()) != brokers) {
    std::cerr << "weir-devkafka: cannot read the mock cluster's address \"" << broker_list << "\"\n";
    return 1;
  }

  // Without --advertise one relay, to broker 1; with it one per broker.
  std::optional<ResponseRewriter> rewriter;
  if (!advertise.empty()) rewriter.emplace(AdvertisedBrokers{advertise, port, brokers});
  asio::io_context io;
  std::deque<tcp::acceptor> acceptors;  // deque: Accept() holds references
  const int relays = rewriter ? brokers : 1;
  for (int i = 0; i < relays; ++i) {
    const int relay_port = port == 0 ? 0 : port + i;
    if (!Listen(acceptors.emplace_back(io), tcp::endpoint(listen_address, static_cast<uint16_t>(relay_port)), ec)) {
      std::cerr << "weir-devkafka: cannot listen on " << DialAddress(listen_address, relay_port) << ": " << ec.message()
                << (rewriter ? " (is another Kafka running? try another --port)"
                             : " (is another Kafka running? try --port 0)")
                << "\n";
      return 1;
    }
    Accept(acceptors.back(), io, mock_brokers[i], rewriter ? &*rewriter : nullptr);
  }
  std::thread io_thread([&io] { io.run(); });

  // librdkafka's mock has no retention setting: say plainly what it keeps.
  std::cerr << "weir-devkafka: retention: each partition keeps only its newest ~5 MiB (at most 100000 produce "
               "batches); older records are deleted, and a consumer that falls further behind gets \"Offset out of "
               "range\" (a Weir job's source.on_offset_gap decides what then). librdkafka's mock cluster cannot keep "
               "more.\n";

  if (rewriter) {
    std::string advertised;
    for (int id = 1; id <= brokers; ++id) {
      advertised += (id > 1 ? "," : "") + advertise + ":" + std::to_string(port + id - 1);
    }
    std::cout << "weir-devkafka bootstrap " << advertise << ":" << port << std::endl;
    std::cout << "weir-devkafka brokers " << advertised << std::endl;
    std::cout << "weir-devkafka mock brokers " << broker_list << std::endl;
  } else {
    std::cout << "weir-devkafka bootstrap " << DialAddress(listen_address, acceptors.front().local_endpoint().port())
              << std::endl;
    std::cout << "weir-devkafka brokers " << broker_list << std::endl;
  }

  int sig = 0;
  for (;;) {
    sig = signals.Wait();
    if (sig != SIGUSR1 && sig != SIGUSR2) break;
    // Ids are 1..brokers. Without --advertise the last is never the relay's
    // target when brokers > 1; with it, its relay's connections drop too.
    const int32_t broker = brokers;
    const rd_kafka_resp_err_t err =
        sig == SIGUSR1 ? rd_kafka_mock_broker_set_down(cluster, broker) : rd_kafka_mock_broker_set_up(cluster, broker);
    std::cerr << "weir-devkafka: broker " << broker << (sig == SIGUSR1 ? " down" : " up")
              << (err == RD_KAFKA_RESP_ERR_NO_ERROR ? "" : std::string(": ") + rd_kafka_err2str(err)) << std::endl;
  }
  std::cerr << "weir-devkafka: " << weir::StopSignals::Name(sig) << " received, stopping\n";
  asio::post(io, [&] {
    for (tcp::acceptor& acceptor : acceptors) acceptor.close(ec);
    io.stop();
  });
  io_thread.join();
  rd_kafka_mock_cluster_destroy(cluster);
  rd_kafka_destroy(rk);
  return 0;
}
