#include "worker/dead_letter_producer.h"

#include <librdkafka/rdkafkacpp.h>
#include <spdlog/spdlog.h>

#include <prometheus/counter.h>

#include <string_view>
#include <thread>

namespace weir::worker {

class DeadLetterProducer::DeliveryReports : public RdKafka::DeliveryReportCb {
 public:
  explicit DeliveryReports(std::atomic<uint64_t>* errors) : errors_(errors) {}
  void dr_cb(RdKafka::Message& message) override {
    if (message.err() == RdKafka::ERR_NO_ERROR) return;
    errors_->fetch_add(1);
    spdlog::error("dead letter to {} partition {} not delivered: {}", message.topic_name(), message.partition(),
                  message.errstr());
  }

 private:
  std::atomic<uint64_t>* errors_;
};

Result<std::unique_ptr<DeadLetterProducer>> DeadLetterProducer::Create(const std::string& brokers,
                                                                       const std::string& client_id,
                                                                       prometheus::Counter* truncated) {
  std::unique_ptr<DeadLetterProducer> p(new DeadLetterProducer());
  p->truncated_metric_ = truncated;
  p->reports_ = std::make_unique<DeliveryReports>(&p->delivery_errors_);
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  if (conf->set("bootstrap.servers", brokers, err) != RdKafka::Conf::CONF_OK ||
      conf->set("client.id", client_id, err) != RdKafka::Conf::CONF_OK ||
      conf->set("linger.ms", "20", err) != RdKafka::Conf::CONF_OK ||
      conf->set("message.max.bytes", std::to_string(kMaxMessageBytes), err) != RdKafka::Conf::CONF_OK ||
      // Keep retrying through broker restarts rather than failing the record.
      conf->set("message.timeout.ms", "0", err) != RdKafka::Conf::CONF_OK ||
      conf->set("dr_cb", p->reports_.get(), err) != RdKafka::Conf::CONF_OK) {
    return InvalidArgument("dead-letter producer for " + brokers + ": " + err);
  }
  p->producer_.reset(RdKafka::Producer::create(conf.get(), err));
  if (p->producer_ == nullptr) return Internal("cannot create the dead-letter producer for " + brokers + ": " + err);
  return p;
}

DeadLetterProducer::~DeadLetterProducer() = default;

void DeadLetterProducer::Produce(const std::string& topic, const std::string& job, const DeadLetterRecord& record) {
  const std::string_view reason = engine::DeadLetterReasonName(record.reason);
  const std::string partition = std::to_string(record.partition);
  const std::string offset = std::to_string(record.offset);
  // What a message carries besides its value, with a margin for the record
  // framing; the detail and key are cut first if they alone are too large.
  constexpr size_t kOverhead = 1024;
  constexpr size_t kMaxDetail = 4096;
  const std::string_view detail = std::string_view(record.detail).substr(0, kMaxDetail);
  const std::string_view key = std::string_view(record.key).substr(0, kMaxDetail);
  const size_t fixed = kOverhead + reason.size() + detail.size() + job.size() + partition.size() + offset.size() +
                       key.size() + 64;  // header names, "truncated"
  std::string_view value = record.record;
  const bool cut = fixed + value.size() > kMaxMessageBytes;
  if (cut) {
    value = value.substr(0, kMaxMessageBytes - fixed);
    truncated_.fetch_add(1);
    if (truncated_metric_ != nullptr) truncated_metric_->Increment();
    spdlog::warn(
        "dead letter of job {} partition {} offset {} ({} bytes) is larger than a message may be; sent "
        "with its value cut to {} bytes (header truncated)",
        job, record.partition, record.offset, record.record.size(), value.size());
  }
  for (;;) {
    RdKafka::Headers* headers = RdKafka::Headers::create();
    headers->add("reason", std::string(reason));
    headers->add("detail", std::string(detail));
    headers->add("job", job);
    headers->add("partition", partition);
    headers->add("offset", offset);
    if (cut) headers->add("truncated", std::to_string(record.record.size()));
    const RdKafka::ErrorCode err = producer_->produce(
        topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY, const_cast<char*>(value.data()),
        value.size(), key.empty() ? nullptr : key.data(), key.size(), 0, headers, nullptr);
    if (err == RdKafka::ERR_NO_ERROR) return;  // the producer owns the headers now
    delete headers;
    if (err != RdKafka::ERR__QUEUE_FULL) {
      delivery_errors_.fetch_add(1);
      spdlog::error("cannot queue a dead letter for topic {}: {}", topic, RdKafka::err2str(err));
      return;
    }
    producer_->poll(100);
  }
}

void DeadLetterProducer::Poll() { producer_->poll(0); }

void DeadLetterProducer::Flush(std::chrono::milliseconds timeout) {
  if (producer_->flush(static_cast<int>(timeout.count())) != RdKafka::ERR_NO_ERROR) {
    spdlog::warn("{} dead letters still undelivered at shutdown", producer_->outq_len());
  }
}

}  // namespace weir::worker
