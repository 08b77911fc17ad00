#include "worker/repartition_producer.h"

#include <librdkafka/rdkafkacpp.h>
#include <spdlog/spdlog.h>

#include "engine/rekey_merge.h"
#include "spec/job_spec.h"
#include "spec/kafka_properties.h"

namespace weir::worker {
namespace {
// How long a stopping stage-1 task waits for its queued messages: what is
// not delivered by then is written again by the next owner (replayed from
// the last checkpoint) and dropped there as a copy if it did arrive.
constexpr std::chrono::milliseconds kCloseFlush{5000};
}  // namespace

// Runs inside poll()/produce()/flush(), on the owning thread.
class RepartitionProducer::DeliveryReports : public RdKafka::DeliveryReportCb {
 public:
  explicit DeliveryReports(RepartitionProducer* owner) : owner_(owner) {}
  void dr_cb(RdKafka::Message& message) override {
    if (message.err() == RdKafka::ERR_NO_ERROR) {
      owner_->counters_->rows_acked.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    owner_->delivery_errors_.fetch_add(1);
    owner_->last_error_ = message.errstr();
    spdlog::error("job {} partition {}: a message to {} partition {} not delivered: {}", owner_->counters_->job,
                  owner_->counters_->partition.value(), message.topic_name(), message.partition(), message.errstr());
  }

 private:
  RepartitionProducer* owner_;
};

Result<std::unique_ptr<RepartitionProducer>> RepartitionProducer::Create(const JobRuntime& job,
                                                                         int32_t source_partition,
                                                                         const std::string& client_id,
                                                                         std::shared_ptr<PartitionCounters> counters) {
  std::unique_ptr<RepartitionProducer> p(new RepartitionProducer());
  p->topic_ = RepartitionTopicOf(job.spec);
  p->source_partition_ = std::to_string(source_partition);
  p->counters_ = std::move(counters);
  p->reports_ = std::make_unique<DeliveryReports>(p.get());
  const std::string& brokers = job.spec.source().kafka().brokers();
  const std::string what = "the repartition producer of job " + job.spec.name() + " (brokers " + brokers + ")";
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  const std::pair<const char*, std::string> settings[] = {
      {"bootstrap.servers", brokers},
      {"client.id", client_id},
      {"linger.ms", "5"},
      {"batch.num.messages", "10000"},
      // Keep retrying through broker restarts rather than failing a record.
      {"message.timeout.ms", "0"},
      // Retries never write a message twice, and keep each partition's order.
      {"enable.idempotence", "true"},
      {"compression.type", "lz4"},
  };
  for (const auto& [name, value] : settings) {
    if (conf->set(name, value, err) != RdKafka::Conf::CONF_OK) {
      std::string message = what;
      message.append(": ").append(err);
      return InvalidArgument(message);
    }
  }
  if (conf->set("dr_cb", p->reports_.get(), err) != RdKafka::Conf::CONF_OK) return Internal(what + ": " + err);
  auto own = spec::ResolveKafkaProperties(job.spec.source().kafka().properties());
  if (!own.ok()) return InvalidArgument(what + ": " + own.status().message());
  for (const auto& [name, value] : *own) {
    if (conf->set(name, value, err) != RdKafka::Conf::CONF_OK) return spec::SettingRefused(what, name, err, *own);
  }
  p->producer_.reset(RdKafka::Producer::create(conf.get(), err));
  if (p->producer_ == nullptr) return Unavailable("cannot create " + what + ": " + err);
  return p;
}

RepartitionProducer::~RepartitionProducer() {
  if (producer_ == nullptr) return;
  if (producer_->flush(static_cast<int>(kCloseFlush.count())) != RdKafka::ERR_NO_ERROR) {
    spdlog::warn("job {} partition {}: {} repartition messages undelivered at stop (the next owner writes them again)",
                 counters_->job, counters_->partition.value(), producer_->outq_len());
  }
}

void RepartitionProducer::Produce(const ShuffleMessage& m) {
  for (;;) {
    RdKafka::Headers* headers = RdKafka::Headers::create();
    headers->add(std::string(engine::kHeaderSourcePartition), source_partition_);
    if (m.marker) {
      headers->add(std::string(engine::kHeaderMarker), std::to_string(m.watermark));
    } else {
      headers->add(std::string(engine::kHeaderSourceOffset), std::to_string(m.source_offset));
    }
    const RdKafka::ErrorCode err =
        producer_->produce(topic_, m.partition, RdKafka::Producer::RK_MSG_COPY, const_cast<char*>(m.value.data()),
                           m.value.size(), m.key.empty() ? nullptr : m.key.data(), m.key.size(), 0, headers, nullptr);
    if (err == RdKafka::ERR_NO_ERROR) {  // the producer owns the headers now
      counters_->rows_emitted.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    delete headers;
    if (err != RdKafka::ERR__QUEUE_FULL) {
      // Counted as emitted and never acknowledged: no snapshot after it
      // becomes reportable, so the message is written again after a restart.
      counters_->rows_emitted.fetch_add(1, std::memory_order_relaxed);
      delivery_errors_.fetch_add(1);
      last_error_ = RdKafka::err2str(err);
      spdlog::error("job {} partition {}: cannot queue a message for {}: {}", counters_->job,
                    counters_->partition.value(), topic_, last_error_);
      return;  // counted: the partition is failed and checkpoints stop past it
    }
    producer_->poll(10);
  }
}

void RepartitionProducer::Poll() { producer_->poll(0); }

std::string RepartitionProducer::last_error() const { return last_error_; }

}  // namespace weir::worker
