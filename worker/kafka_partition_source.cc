#include "worker/kafka_partition_source.h"

#include <absl/base/thread_annotations.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>
#include <simdjson.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <map>
#include <utility>

#include "common/mutex.h"
#include "spec/kafka_properties.h"

namespace weir::worker {
namespace {

using SteadyClock = std::chrono::steady_clock;
constexpr auto kErrorLogPeriod = std::chrono::seconds(10);
// A client refused by the brokers' security is replaced no sooner than this
// after it was made (it has reported why by then: Problem()).
constexpr auto kMinClientAge = std::chrono::seconds(2);

// Collects librdkafka's errors and statistics as the consumer serves them,
// and verifies brokers' certificates as OpenSSL did (its result stands),
// keeping why one was refused for Problem().
class SourceEvents : public RdKafka::EventCb, public RdKafka::SslCertificateVerifyCb {
 public:
  bool ssl_cert_verify_cb(const std::string& broker_name, int32_t /*broker_id*/, int* x509_error, int depth,
                          const char* /*buf*/, size_t /*size*/, std::string& errstr) override {
    if (*x509_error == 0) return true;
    errstr = spec::CertificateRefused(broker_name, depth, *x509_error);
    weir::MutexLock lock(&mu);
    certificate_refused = errstr;
    return false;
  }

  void event_cb(RdKafka::Event& event) override {
    switch (event.type()) {
      case RdKafka::Event::EVENT_ERROR:
        last_error = event.str();
        ++errors;
        if (RefusedBySecurity(event.err())) {
          ++security_errors;
          security_error = event.str();
        }
        break;
      case RdKafka::Event::EVENT_STATS: stats = event.str(); break;
      case RdKafka::Event::EVENT_LOG:
        if (event.severity() <= RdKafka::Event::EVENT_SEVERITY_WARNING) {
          spdlog::debug("librdkafka {}: {}", event.fac(), event.str());
        }
        break;
      default: break;
    }
  }

  // The brokers refused this client's credentials or its TLS handshake (a
  // wrong password, an expired or untrusted certificate): retrying with the
  // same settings cannot succeed, a new client reads them again.
  static bool RefusedBySecurity(RdKafka::ErrorCode err) {
    return err == RdKafka::ERR__AUTHENTICATION || err == RdKafka::ERR__SSL ||
           err == RdKafka::ERR_SASL_AUTHENTICATION_FAILED;
  }

  // The newest certificate refusal (librdkafka's broker threads write it).
  std::string certificate() {
    weir::MutexLock lock(&mu);
    return certificate_refused;
  }

  weir::Mutex mu;
  std::string certificate_refused ABSL_GUARDED_BY(mu);
  std::string last_error;
  uint64_t errors = 0;           // error events so far
  uint64_t security_errors = 0;  // of which RefusedBySecurity
  std::string security_error;    // the last of them: the reason while it lasts (later errors say less)
  std::string stats;             // the newest statistics JSON not yet read; empty when none
};

class KafkaPartitionSource final : public PartitionSource {
 public:
  KafkaPartitionSource(const JobRuntime& job, std::unique_ptr<SourceEvents> events,
                       std::unique_ptr<RdKafka::KafkaConsumer> consumer)
      : topic_(job.spec.source().kafka().topic()),
        brokers_(job.spec.source().kafka().brokers()),
        job_(job.spec.name()),
        skip_gaps_(job.spec.source().on_offset_gap() == weir::v1::OFFSET_GAP_POLICY_SKIP),
        read_headers_(job.reads_repartition),
        events_(std::move(events)),
        consumer_(std::move(consumer)) {}

  ~KafkaPartitionSource() override {
    held_.clear();
    consumer_->close();
  }

  Status Assign(PartitionId partition, KafkaOffset offset) override {
    std::unique_ptr<RdKafka::TopicPartition> tp(
        RdKafka::TopicPartition::create(topic_, partition.value(), offset.value()));
    std::unique_ptr<RdKafka::Error> error(consumer_->incremental_assign({tp.get()}));
    if (error != nullptr) {
      return Unavailable("Kafka refused to assign topic \"" + topic_ + "\" partition " +
                         std::to_string(partition.value()) + " at " + brokers_ + ": " + error->str());
    }
    health_[partition.value()] = PartitionHealth{};
    return Status::Ok();
  }

  void Unassign(PartitionId partition) override {
    std::unique_ptr<RdKafka::TopicPartition> tp(RdKafka::TopicPartition::create(topic_, partition.value()));
    std::unique_ptr<RdKafka::Error> error(consumer_->incremental_unassign({tp.get()}));
    if (error != nullptr) {
      spdlog::warn("job {} partition {}: unassign: {}", job_, partition.value(), error->str());
    }
    health_.erase(partition.value());
  }

  void Poll(const PollLimits& limits, std::vector<SourceRecord>* out) override {
    held_.clear();  // the previous poll's records are done with
    const auto deadline = SteadyClock::now() + limits.max_time;
    int wait_ms = static_cast<int>(limits.first_wait.count());
    size_t n = 0;
    while (n < limits.max_records) {
      std::unique_ptr<RdKafka::Message> m(consumer_->consume(wait_ms));
      wait_ms = 0;
      const RdKafka::ErrorCode err = m->err();
      if (err == RdKafka::ERR__TIMED_OUT) break;
      if (err == RdKafka::ERR__PARTITION_EOF) {
        Readable(m->partition());
        continue;
      }
      if (err == RdKafka::ERR__AUTO_OFFSET_RESET || err == RdKafka::ERR_OFFSET_OUT_OF_RANGE) {
        OnOffsetGap(m->partition(), m->offset(), m->errstr());
        continue;
      }
      if (err != RdKafka::ERR_NO_ERROR) {
        events_->last_error = m->errstr();
        ++events_->errors;
        break;
      }
      Readable(m->partition());
      out->push_back(SourceRecord{PartitionId(m->partition()),
                                  KafkaOffset(m->offset()),
                                  m->key_pointer() != nullptr
                                      ? std::string_view(static_cast<const char*>(m->key_pointer()), m->key_len())
                                      : std::string_view(),
                                  std::string_view(static_cast<const char*>(m->payload()), m->len()),
                                  {}});
      if (read_headers_) ReadMeta(m->c_ptr(), &out->back().meta);
      held_.push_back(std::move(m));
      ++n;
      if ((n & 255) == 0 && SteadyClock::now() >= deadline) break;
    }
    TakeEvents();
  }

  // Stage 1's headers (engine/rekey_merge.h); a message without them keeps
  // source_partition -1, and stage 2 dead-letters it.
  static void ReadMeta(rd_kafka_message_t* m, engine::RepartitionMeta* meta) {
    rd_kafka_headers_t* headers = nullptr;
    if (rd_kafka_message_headers(m, &headers) != RD_KAFKA_RESP_ERR_NO_ERROR) return;
    auto get = [headers](std::string_view name, int64_t* out) {
      const void* value = nullptr;
      size_t size = 0;
      if (rd_kafka_header_get_last(headers, std::string(name).c_str(), &value, &size) != RD_KAFKA_RESP_ERR_NO_ERROR ||
          value == nullptr) {
        return false;
      }
      return engine::ParseHeaderNumber(std::string_view(static_cast<const char*>(value), size), out);
    };
    int64_t source_partition = -1;
    if (!get(engine::kHeaderSourcePartition, &source_partition) || source_partition < 0 ||
        source_partition > INT32_MAX) {
      return;
    }
    int64_t n = 0;
    if (get(engine::kHeaderMarker, &n)) {
      meta->marker = true;
      meta->watermark = n;
    } else if (get(engine::kHeaderSourceOffset, &n)) {
      meta->source_offset = n;
    } else {
      return;
    }
    meta->source_partition = static_cast<int32_t>(source_partition);
  }

  uint64_t TakeSkippedRecords(PartitionId partition) override {
    auto it = health_.find(partition.value());
    if (it == health_.end()) return 0;
    return std::exchange(it->second.skipped, 0);
  }

  void Pause(PartitionId partition) override { PauseOrResume(partition, true); }
  void Resume(PartitionId partition) override { PauseOrResume(partition, false); }

  std::optional<KafkaOffset> EndOffset(PartitionId partition) override {
    int64_t low = 0, high = 0;
    if (consumer_->get_watermark_offsets(topic_, partition.value(), &low, &high) != RdKafka::ERR_NO_ERROR || high < 0) {
      return std::nullopt;
    }
    return KafkaOffset(high);
  }

  bool WantsNewClient() override {
    return events_->security_errors > 0 && SteadyClock::now() - created_ >= kMinClientAge;
  }

  bool ProvenReadable(PartitionId partition) override {
    auto it = health_.find(partition.value());
    return it != health_.end() && it->second.leader_up;
  }

  std::string Problem(PartitionId partition) override {
    auto it = health_.find(partition.value());
    if (it != health_.end() && !it->second.gap.empty()) return it->second.gap;
    if (!degraded_ || it == health_.end() || it->second.leader_up) return "";
    const std::string certificate = events_->certificate();
    return "cannot read topic \"" + topic_ + "\" partition " + std::to_string(partition.value()) +
           " from the Kafka brokers at " + brokers_ + ": " +
           (events_->security_errors > 0 ? events_->security_error : events_->last_error) +
           (certificate.empty() ? "" : " (" + certificate + ")") +
           " (the worker keeps retrying; check source.kafka.brokers and that the brokers are up and reachable from "
           "this worker)";
  }

 private:
  struct PartitionHealth {
    // Its leader broker was up at the last statistics, or a record (or its
    // end) came since. False until known.
    bool leader_up = false;
    // Why it stopped at an offset gap (policy stop); empty while none.
    std::string gap;
    uint64_t skipped = 0;  // records skipped over since TakeSkippedRecords (policy skip)
    bool paused = false;   // Pause()d, not Resume()d since
  };

  // Kafka no longer has the records at `offset` of `partition` (retention
  // deleted them; librdkafka does not reset by itself: auto.offset.reset is
  // `error`). Names the gap from the partition's range, then stops the
  // partition there, or goes on at the oldest record kept (skip).
  // Asks the brokers (up to 2 s), on the processing thread: gaps are rare.
  void OnOffsetGap(int32_t partition, int64_t offset, const std::string& detail) {
    auto it = health_.find(partition);
    if (it == health_.end()) return;  // unassigned a moment ago
    int64_t low = -1, high = -1;
    const RdKafka::ErrorCode err = consumer_->query_watermark_offsets(topic_, partition, &low, &high, 2000);
    const std::string where = "topic \"" + topic_ + "\" partition " + std::to_string(partition);
    std::string gap;
    uint64_t count = 0;
    if (err != RdKafka::ERR_NO_ERROR) {
      gap = where + ": offset " + std::to_string(offset) + " is out of range (" + detail +
            "), and its range cannot be read: " + RdKafka::err2str(err);
      low = kOffsetBeginning.value();
    } else if (offset >= 0 && offset < low) {
      count = static_cast<uint64_t>(low - offset);
      gap = where + ": records from offset " + std::to_string(offset) + " to " + std::to_string(low - 1) + " (" +
            std::to_string(count) + " records) are gone from Kafka (retention deleted them; it keeps offsets " +
            std::to_string(low) + " to " + std::to_string(high - 1) + ")";
    } else if (offset > high) {
      gap = where + ": offset " + std::to_string(offset) + " is past the partition's end " + std::to_string(high) +
            " (was the topic deleted and created again?); its records from " + std::to_string(low) + " are new";
    } else {
      gap = where + ": offset " + std::to_string(offset) + " is out of range (" + detail + "; the partition has " +
            std::to_string(low) + " to " + std::to_string(high - 1) + ")";
    }
    if (!skip_gaps_) {
      spdlog::error("job {}: {}; stopping the partition (source.on_offset_gap: stop)", job_, gap);
      it->second.gap = gap +
                       "; the partition stops here (source.on_offset_gap: stop): to go on without them, submit the "
                       "job again with source.on_offset_gap: skip; to keep records longer, raise the topic's "
                       "retention";
      return;
    }
    spdlog::warn("job {}: {}; skipping to offset {} (source.on_offset_gap: skip)", job_, gap, low);
    const uint64_t skipped = it->second.skipped + count;
    const bool paused = it->second.paused;
    Unassign(PartitionId(partition));
    if (const Status s = Assign(PartitionId(partition), KafkaOffset(low)); !s.ok()) {
      health_[partition].gap = gap + "; skipping it failed: " + s.message();
    }
    health_[partition].skipped = skipped;
    if (paused) Pause(PartitionId(partition));  // its output is still full
  }

  void PauseOrResume(PartitionId partition, bool pause) {
    if (auto it = health_.find(partition.value()); it != health_.end()) it->second.paused = pause;
    std::unique_ptr<RdKafka::TopicPartition> tp(RdKafka::TopicPartition::create(topic_, partition.value()));
    std::vector<RdKafka::TopicPartition*> list = {tp.get()};
    const RdKafka::ErrorCode err = pause ? consumer_->pause(list) : consumer_->resume(list);
    if (err != RdKafka::ERR_NO_ERROR) {
      spdlog::warn("job {} partition {}: {}: {}", job_, partition.value(), pause ? "pause" : "resume",
                   RdKafka::err2str(err));
    }
  }

  void Readable(int32_t partition) {
    auto it = health_.find(partition);
    if (it != health_.end()) it->second.leader_up = true;
  }

  // Applies what the callbacks collected during the poll.
  void TakeEvents() {
    if (events_->errors != errors_seen_) {
      errors_seen_ = events_->errors;
      degraded_ = true;  // a partition whose leader is not up at the next statistics has a problem
      if (SteadyClock::now() - last_error_log_ >= kErrorLogPeriod) {
        last_error_log_ = SteadyClock::now();
        spdlog::warn("job {}: Kafka at {}: {} (librdkafka retries)", job_, brokers_, events_->last_error);
      }
    }
    if (!events_->stats.empty()) {
      ReadStatistics(events_->stats);
      events_->stats.clear();
    }
  }

  // From librdkafka's statistics JSON: which assigned partitions' leaders are
  // up. All up ends the degraded state.
  void ReadStatistics(const std::string& json) {
    simdjson::dom::element root;
    if (parser_.parse(json).get(root) != simdjson::SUCCESS) return;
    std::map<int64_t, bool> broker_up;  // by node id
    simdjson::dom::object brokers;
    if (root["brokers"].get_object().get(brokers) == simdjson::SUCCESS) {
      for (auto [name, broker] : brokers) {
        int64_t node = -1;
        std::string_view state;
        if (broker["nodeid"].get_int64().get(node) != simdjson::SUCCESS ||
            broker["state"].get_string().get(state) != simdjson::SUCCESS) {
          continue;
        }
        if (node >= 0) broker_up[node] = state == "UP";
      }
    }
    simdjson::dom::object partitions;
    if (root["topics"][topic_]["partitions"].get_object().get(partitions) != simdjson::SUCCESS) return;
    bool all_up = true;
    for (auto& [partition, health] : health_) {
      int64_t leader = -1;
      if (partitions[std::to_string(partition)]["leader"].get_int64().get(leader) != simdjson::SUCCESS) leader = -1;
      auto up = broker_up.find(leader);
      health.leader_up = up != broker_up.end() && up->second;
      all_up = all_up && health.leader_up;
    }
    if (all_up) degraded_ = false;
  }

  const std::string topic_;
  const std::string brokers_;
  const std::string job_;
  const bool skip_gaps_;                  // source.on_offset_gap: skip
  const bool read_headers_;               // a repartition topic: stage 1's headers into SourceRecord::meta
  std::unique_ptr<SourceEvents> events_;  // outlives the consumer, which calls it
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  std::vector<std::unique_ptr<RdKafka::Message>> held_;  // the last poll's records
  std::map<int32_t, PartitionHealth> health_;            // by assigned partition
  bool degraded_ = false;                                // an error since every partition was last seen readable
  uint64_t errors_seen_ = 0;
  SteadyClock::time_point last_error_log_ = SteadyClock::now() - kErrorLogPeriod;
  const SteadyClock::time_point created_ = SteadyClock::now();
  simdjson::dom::parser parser_;
};

Status SettingRefused(const std::string& brokers, const std::string& name, const std::string& value,
                      const std::string& error) {
  std::string message = "cannot create a Kafka consumer for brokers " + brokers;
  message += ": setting " + name + "=\"" + value + "\" refused: " + error;
  return InvalidArgument(std::move(message));
}

}  // namespace

Result<std::unique_ptr<PartitionSource>> MakeKafkaSource(const JobRuntime& job, const KafkaSourceOptions& options) {
  const std::string& brokers = job.spec.source().kafka().brokers();
  auto events = std::make_unique<SourceEvents>();
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  const std::pair<const char*, std::string> settings[] = {
      {"bootstrap.servers", brokers},
      {"client.id", options.client_id},
      // Required by the C++ consumer API; never joined, since Weir assigns
      // partitions itself and never subscribes.
      {"group.id", "weir-" + job.spec.name()},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"fetch.wait.max.ms", "10"},
      {"queued.max.messages.kbytes", "16384"},
      {"reconnect.backoff.max.ms", "1000"},
      // A broker that stops answering (frozen, partitioned away) is given up
      // after 10 s rather than librdkafka's 60 s: the partition's new leader
      // is then looked up and read (the job can set its own).
      {"socket.timeout.ms", "10000"},
      // A restored offset that retention already deleted is never reset
      // silently: the consumer reports it (OnOffsetGap) and the job's
      // source.on_offset_gap decides.
      {"auto.offset.reset", "error"},
      // Reaching a partition's end proves it readable (Problem()).
      {"enable.partition.eof", "true"},
      {"statistics.interval.ms", "1000"},
  };
  for (const auto& [name, value] : settings) {
    if (conf->set(name, value, err) != RdKafka::Conf::CONF_OK) return SettingRefused(brokers, name, value, err);
  }
  // The job's own settings (TLS, SASL, ...), references resolved now: a
  // corrected secret file is read again when the partition is retried.
  auto own = spec::ResolveKafkaProperties(job.spec.source().kafka().properties());
  if (!own.ok())
    return InvalidArgument("cannot create a Kafka consumer for brokers " + brokers + ": " + own.status().message());
  for (const auto& [name, value] : *own) {
    if (conf->set(name, value, err) != RdKafka::Conf::CONF_OK) {
      return spec::SettingRefused("cannot create a Kafka consumer for brokers " + brokers, name, err, *own);
    }
  }
  if (conf->set("event_cb", static_cast<RdKafka::EventCb*>(events.get()), err) != RdKafka::Conf::CONF_OK ||
      conf->set("ssl_cert_verify_cb", static_cast<RdKafka::SslCertificateVerifyCb*>(events.get()), err) !=
          RdKafka::Conf::CONF_OK) {
    return Internal("cannot create a Kafka consumer for brokers " + brokers + ": " + err);
  }
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(conf.get(), err));
  if (consumer == nullptr) {
    return Unavailable("cannot create a Kafka consumer for brokers " + brokers + ": " + err +
                       " (check source.kafka.brokers in the job's spec)");
  }
  return std::unique_ptr<PartitionSource>(
      std::make_unique<KafkaPartitionSource>(job, std::move(events), std::move(consumer)));
}

PartitionSourceFactory KafkaSourceFactory(KafkaSourceOptions options) {
  return [options = std::move(options)](const JobRuntime& job) { return MakeKafkaSource(job, options); };
}

}  // namespace weir::worker
