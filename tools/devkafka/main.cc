// weir-devkafka: a local Kafka for development and tests, built on
// librdkafka's mock cluster (a real Kafka protocol server, in memory).
//
// librdkafka's mock brokers listen on ports of their own choosing; so that
// clients can bootstrap from a fixed address (--port, default 9092), this
// process also relays TCP connections on that port to the first broker.
// Clients then follow the brokers' advertised addresses from metadata.
//
// Limits of the mock cluster (librdkafka 2.0): about 5 MiB kept per
// partition, aborted transactions are not filtered, data lives in memory only.
//
// Fault injection (chaos tests): SIGUSR1 takes the last broker down (its
// connections drop and it refuses new ones), SIGUSR2 brings it back up.
#include <csignal>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <CLI/CLI.hpp>
#include <boost/asio.hpp>

#include "common/stop_signals.h"

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// Relays bytes both ways between a client and the broker until either side
// closes. Kept alive by the handlers that hold it.
class Relay : public std::enable_shared_from_this<Relay> {
 public:
  Relay(tcp::socket client, asio::io_context& io) : client_(std::move(client)), broker_(io) {}

  void Start(const tcp::endpoint& broker) {
    broker_.async_connect(broker, [self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec) return self->Close();
      self->Pump(self->client_, self->broker_, self->up_);
      self->Pump(self->broker_, self->client_, self->down_);
    });
  }

 private:
  void Pump(tcp::socket& from, tcp::socket& to, std::vector<char>& buf) {
    buf.resize(64 * 1024);
    from.async_read_some(asio::buffer(buf),
                         [self = shared_from_this(), &from, &to, &buf](const boost::system::error_code& ec, size_t n) {
                           if (ec) return self->Close();
                           asio::async_write(to, asio::buffer(buf.data(), n),
                                             [self, &from, &to, &buf](const boost::system::error_code& wec, size_t) {
                                               if (wec) return self->Close();
                                               self->Pump(from, to, buf);
                                             });
                         });
  }

  void Close() {
    boost::system::error_code ignored;
    client_.close(ignored);
    broker_.close(ignored);
  }

  tcp::socket client_;
  tcp::socket broker_;
  std::vector<char> up_;
  std::vector<char> down_;
};

void Accept(tcp::acceptor& acceptor, asio::io_context& io, const tcp::endpoint& broker) {
  acceptor.async_accept([&acceptor, &io, broker](const boost::system::error_code& ec, tcp::socket socket) {
    if (ec) return;  // closed
    std::make_shared<Relay>(std::move(socket), io)->Start(broker);
    Accept(acceptor, io, broker);
  });
}

// "host:port[,host:port]" -> the first endpoint.
bool FirstEndpoint(const std::string& bootstraps, tcp::endpoint* out) {
  const std::string first = bootstraps.substr(0, bootstraps.find(','));
  const size_t colon = first.rfind(':');
  if (colon == std::string::npos) return false;
  boost::system::error_code ec;
  std::string host = first.substr(0, colon);
  if (host == "localhost") host = "127.0.0.1";
  const auto address = asio::ip::make_address(host, ec);
  if (ec) return false;
  *out = tcp::endpoint(address, static_cast<uint16_t>(std::stoi(first.substr(colon + 1))));
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"weir-devkafka: a local Kafka (librdkafka's mock cluster) for development and tests"};
  int port = 9092;
  int brokers = 1;
  std::vector<std::string> topics;
  app.add_option("--port", port, "Fixed bootstrap port on 127.0.0.1 (0 picks a free one)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535))
      ->envname("WEIR_DEVKAFKA_PORT");
  app.add_option("--brokers", brokers, "Number of brokers")->capture_default_str()->check(CLI::Range(1, 9));
  app.add_option("--topic", topics, "A topic to create, NAME:PARTITIONS; repeatable")->envname("WEIR_DEVKAFKA_TOPICS");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
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

  asio::io_context io;
  tcp::acceptor acceptor(io);
  tcp::endpoint first_broker;
  if (!FirstEndpoint(broker_list, &first_broker)) {
    std::cerr << "weir-devkafka: cannot read the mock cluster's address \"" << broker_list << "\"\n";
    return 1;
  }
  boost::system::error_code ec;
  const tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port));
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    std::cerr << "weir-devkafka: cannot listen on 127.0.0.1:" << port << ": " << ec.message()
              << " (is another Kafka running? try --port 0)\n";
    return 1;
  }
  Accept(acceptor, io, first_broker);
  std::thread io_thread([&io] { io.run(); });

  std::cout << "weir-devkafka bootstrap 127.0.0.1:" << acceptor.local_endpoint().port() << std::endl;
  std::cout << "weir-devkafka brokers " << broker_list << std::endl;

  int sig = 0;
  for (;;) {
    sig = signals.Wait();
    if (sig != SIGUSR1 && sig != SIGUSR2) break;
    const int32_t broker = brokers;  // ids are 1..brokers; the last is never the relay's target when brokers > 1
    const rd_kafka_resp_err_t err =
        sig == SIGUSR1 ? rd_kafka_mock_broker_set_down(cluster, broker) : rd_kafka_mock_broker_set_up(cluster, broker);
    std::cerr << "weir-devkafka: broker " << broker << (sig == SIGUSR1 ? " down" : " up")
              << (err == RD_KAFKA_RESP_ERR_NO_ERROR ? "" : std::string(": ") + rd_kafka_err2str(err)) << std::endl;
  }
  std::cerr << "weir-devkafka: " << weir::StopSignals::Name(sig) << " received, stopping\n";
  asio::post(io, [&] {
    acceptor.close(ec);
    io.stop();
  });
  io_thread.join();
  rd_kafka_mock_cluster_destroy(cluster);
  rd_kafka_destroy(rk);
  return 0;
}
