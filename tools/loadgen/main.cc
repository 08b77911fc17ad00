// weir-loadgen: produces JSON events into a Kafka topic at a target rate, for
// demos, benchmarks and chaos runs. Records are keyed by their entity key, so
// Kafka's default partitioner (murmur2) puts one key in one partition, as
// Weir expects (docs/semantics.md, "Keyed partition").
//
//   {"user_id":"u42","ts":1700000000123,"amount":12.5,"type":"click","merchant":"m7","seq":7}
//
// Event time follows wall time from --start-ms (default: now), sped up by
// --time-scale, or advances --event-step-ms per event when that is set
// (deterministic, whatever the rate); it is then shifted back by up to
// --disorder for out-of-order events, or by --late-by for a --late-fraction
// of events (behind the watermark).
#include <chrono>
#include <cmath>
#include <csignal>
#include <iostream>
#include <random>
#include <string>
#include <thread>

#include <librdkafka/rdkafka.h>
#include <CLI/CLI.hpp>

#include "common/clock.h"
#include "common/duration.h"

namespace {

volatile std::sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

// Parses a duration flag or exits with a message naming the flag.
int64_t DurationFlag(const std::string& name, const std::string& text) {
  auto ms = weir::ParseDuration(text);
  if (!ms.ok()) {
    std::cerr << "weir-loadgen: --" << name << ": " << ms.status().message() << "\n";
    std::exit(2);
  }
  return *ms;
}

}  // namespace

int main(int argc, char** argv) {  // NOLINT(bugprone-exception-escape): an exception here is a bug; let it abort loudly
  CLI::App app{"weir-loadgen: produce keyed JSON events into Kafka at a target rate"};
  std::string brokers = "127.0.0.1:9092";
  std::string topic = "transactions";
  double rate = 1000;
  int64_t count = 0;
  int keys = 1000;
  std::string key_prefix = "u";
  std::string disorder = "0s";
  double late_fraction = 0;
  std::string late_by = "5m";
  int64_t start_ms = 0;
  double time_scale = 1;
  int64_t event_step_ms = 0;
  int merchants = 50;
  uint64_t seed = 1;
  app.add_option("--brokers", brokers, "Kafka bootstrap servers")->capture_default_str()->envname("WEIR_BROKERS");
  app.add_option("--topic", topic, "Topic to produce to")->capture_default_str();
  app.add_option("--rate", rate, "Events per second (0: as fast as possible)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--count", count, "Stop after this many events (0: until SIGINT/SIGTERM)")->capture_default_str();
  app.add_option("--keys", keys, "Distinct entity keys (user_id u0..uN-1)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--key-prefix", key_prefix, "Prefix of the key values")->capture_default_str();
  app.add_option("--disorder", disorder, "Event times lag wall time by up to this (out-of-order events)")
      ->capture_default_str();
  app.add_option("--late-fraction", late_fraction, "Fraction of events sent --late-by behind (late data)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--late-by", late_by, "How far behind late events are")->capture_default_str();
  app.add_option("--start-ms", start_ms, "Event time of the first event, ms since the epoch (0: now)");
  app.add_option("--time-scale", time_scale,
                 "Event time runs this many times faster than wall time (demos: windows close in seconds)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--event-step-ms", event_step_ms,
                 "Event i has time start + i * this, whatever the rate (0: follow wall time)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--merchants", merchants, "Distinct merchant values (m0..mN-1)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--seed", seed, "Random seed (same seed, same events)")->capture_default_str();
  int flush_timeout_ms = 30'000;
  app.add_option("--flush-timeout-ms", flush_timeout_ms,
                 "How long to wait at the end for every event to be acknowledged (a broker failing over can take "
                 "longer than the default)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  const int64_t disorder_ms = DurationFlag("disorder", disorder);
  const int64_t late_by_ms = DurationFlag("late-by", late_by);

  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers.c_str(), errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK ||
      rd_kafka_conf_set(conf, "linger.ms", "5", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK ||
      // A frozen broker (chaos: SIGSTOP) is given up after 10 s, not 60 s,
      // so the stream goes on through its partitions' new leaders.
      rd_kafka_conf_set(conf, "socket.timeout.ms", "10000", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK ||
      rd_kafka_conf_set(conf, "partitioner", "murmur2_random", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
    std::cerr << "weir-loadgen: " << errstr << "\n";
    return 2;
  }
  rd_kafka_t* producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
  if (producer == nullptr) {
    std::cerr << "weir-loadgen: cannot create a producer: " << errstr << "\n";
    return 1;
  }
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);

  std::mt19937_64 rng(seed);
  constexpr const char* kTypes[] = {"click", "click", "view", "purchase"};
  const auto started = std::chrono::steady_clock::now();
  const int64_t time_base = start_ms != 0 ? start_ms : weir::WallClockMs();
  int64_t sent = 0;
  int64_t failed = 0;
  auto last_report = started;
  std::string value;
  while (g_stop == 0 && (count == 0 || sent < count)) {
    if (rate > 0) {  // pace: event i is due at i / rate seconds
      const auto due = started + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                     std::chrono::duration<double>(static_cast<double>(sent) / rate));
      if (due > std::chrono::steady_clock::now()) std::this_thread::sleep_until(due);
    }
    const int64_t elapsed =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
    int64_t ts = event_step_ms > 0 ? time_base + sent * event_step_ms
                                   : time_base + static_cast<int64_t>(static_cast<double>(elapsed) * time_scale);
    if (late_fraction > 0 && std::uniform_real_distribution<double>(0, 1)(rng) < late_fraction) {
      ts -= late_by_ms;
    } else if (disorder_ms > 0) {
      ts -= static_cast<int64_t>(rng() % static_cast<uint64_t>(disorder_ms + 1));
    }
    const std::string key = key_prefix + std::to_string(rng() % static_cast<uint64_t>(keys));
    const double amount = std::round(std::uniform_real_distribution<double>(1, 500)(rng) * 100) / 100;
    value = "{\"user_id\":\"" + key + "\",\"ts\":" + std::to_string(ts) + ",\"amount\":" + std::to_string(amount) +
            ",\"type\":\"" + kTypes[rng() % 4] + "\",\"merchant\":\"m" +
            std::to_string(rng() % static_cast<uint64_t>(merchants)) + "\",\"seq\":" + std::to_string(sent) + "}";
    for (;;) {
      const rd_kafka_resp_err_t err = rd_kafka_producev(
          producer, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_KEY(key.data(), key.size()),
          RD_KAFKA_V_VALUE(value.data(), value.size()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        rd_kafka_poll(producer, 100);  // the local queue is full: wait for deliveries
        continue;
      }
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR) ++failed;
      break;
    }
    ++sent;
    rd_kafka_poll(producer, 0);
    const auto now = std::chrono::steady_clock::now();
    if (now - last_report >= std::chrono::seconds(5)) {
      last_report = now;
      std::cerr << "weir-loadgen: " << sent << " events sent\n";
    }
  }
  rd_kafka_flush(producer, flush_timeout_ms);
  const int64_t undelivered = rd_kafka_outq_len(producer);
  rd_kafka_destroy(producer);
  std::cerr << "weir-loadgen: " << sent << " events produced to " << topic << ", " << failed << " refused, "
            << undelivered << " undelivered\n";
  return failed == 0 && undelivered == 0 ? 0 : 1;
}
