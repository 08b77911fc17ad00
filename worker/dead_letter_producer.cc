#include "worker/dead_letter_producer.h"

#include <librdkafka/rdkafkacpp.h>
#include <spdlog/spdlog.h>

#include <prometheus/counter.h>

#include <string_view>
#include <thread>

namespace weir::worker {

// Runs inside poll()/flush(), on the thread that called them.
class DeadLetterProducer::DeliveryReports : public RdKafka::DeliveryReportCb {
 public:
  explicit DeliveryReports(DeadLetterProducer* owner) : owner_(owner) {}
  void dr_cb(RdKafka::Message& message) override {
    if (message.err() == RdKafka::ERR_NO_ERROR) return;
    // The topic takes smaller messages than kMaxMessageBytes: send again
    // with the value halved, until it fits.
    if (message.err() == RdKafka::ERR_MSG_SIZE_TOO_LARGE && message.len() > 0 && owner_->Resend(message)) return;
    owner_->DeliveryFailed();
    spdlog::error("dead letter to {} partition {} not delivered: {}", message.topic_name(), message.partition(),
                  message.errstr());
  }

 private:
  DeadLetterProducer* owner_;
};

void DeadLetterProducer::DeliveryFailed() {
  delivery_errors_.fetch_add(1);
  if (delivery_errors_metric_ != nullptr) delivery_errors_metric_->Increment();
}

void DeadLetterProducer::Truncated() {
  truncated_.fetch_add(1);
  if (truncated_metric_ != nullptr) truncated_metric_->Increment();
}

bool DeadLetterProducer::Resend(RdKafka::Message& message) {
  RdKafka::Headers* headers = RdKafka::Headers::create();
  bool was_cut = false;
  if (const RdKafka::Headers* old = message.headers(); old != nullptr) {
    for (const RdKafka::Headers::Header& h : old->get_all()) {
      was_cut = was_cut || h.key() == "truncated";
      headers->add(h.key(), h.value(), h.value_size());
    }
  }
  if (!was_cut) {
    headers->add("truncated", std::to_string(message.len()));
    Truncated();
  }
  const std::string* key = message.key();
  const RdKafka::ErrorCode err = producer_->produce(
      message.topic_name(), RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY, message.payload(),
      message.len() / 2, key == nullptr ? nullptr : key->data(), key == nullptr ? 0 : key->size(), 0, headers, nullptr);
  if (err == RdKafka::ERR_NO_ERROR) return true;
  delete headers;
  return false;
}

Result<std::unique_ptr<DeadLetterProducer>> DeadLetterProducer::Create(const std::string& brokers,
                                                                       const std::string& client_id,
                                                                       const spec::KafkaSettings& settings,
                                                                       prometheus::Counter* truncated,
                                                                       prometheus::Counter* delivery_errors) {
  std::unique_ptr<DeadLetterProducer> p(new DeadLetterProducer());
  p->truncated_metric_ = truncated;
  p->delivery_errors_metric_ = delivery_errors;
  p->reports_ = std::make_unique<DeliveryReports>(p.get());
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  if (conf->set("bootstrap.servers", brokers, err) != RdKafka::Conf::CONF_OK ||
      conf->set("client.id", client_id, err) != RdKafka::Conf::CONF_OK ||
      conf->set("linger.ms", "20", err) != RdKafka::Conf::CONF_OK ||
      conf->set("message.max.bytes", std::to_string(kMaxMessageBytes), err) != RdKafka::Conf::CONF_OK ||
      // Keep retrying through broker restarts rather than failing the record.
      conf->set("message.timeout.ms", "0", err) != RdKafka::Conf::CONF_OK ||
      // Retries never write a dead letter twice.
      conf->set("enable.idempotence", "true", err) != RdKafka::Conf::CONF_OK ||
      conf->set("dr_cb", p->reports_.get(), err) != RdKafka::Conf::CONF_OK) {
    return InvalidArgument("dead-letter producer for " + brokers + ": " + err);
  }
  for (const auto& [name, value] : settings) {  // the job's source.kafka.properties, resolved
    if (conf->set(name, value, err) != RdKafka::Conf::CONF_OK) {
      return spec::SettingRefused("dead-letter producer for " + brokers, name, err, settings);
    }
  }
  p->producer_.reset(RdKafka::Producer::create(conf.get(), err));
  if (p->producer_ == nullptr) return Internal("cannot create the dead-letter producer for " + brokers + ": " + err);
  return p;
}

DeadLetterProducer::~DeadLetterProducer() = default;

void DeadLetterProducer::Produce(const std::string& topic, const std::string& job, const DeadLetterRecord& record) {
  (void)Queue(topic, job, record, /*wait=*/true);
}

bool DeadLetterProducer::TryProduce(const std::string& topic, const std::string& job, const DeadLetterRecord& record) {
  return Queue(topic, job, record, /*wait=*/false);
}

bool DeadLetterProducer::Queue(const std::string& topic, const std::string& job, const DeadLetterRecord& record,
                               bool wait) {
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
  if (cut) value = value.substr(0, kMaxMessageBytes - fixed);
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
    if (err == RdKafka::ERR_NO_ERROR) {  // the producer owns the headers now
      if (cut) {
        Truncated();
        spdlog::warn(
            "dead letter of job {} partition {} offset {} ({} bytes) is larger than a message may be; sent "
            "with its value cut to {} bytes (header truncated)",
            job, record.partition, record.offset, record.record.size(), value.size());
      }
      return true;
    }
    delete headers;
    if (err != RdKafka::ERR__QUEUE_FULL) {
      DeliveryFailed();
      spdlog::error("cannot queue a dead letter for topic {}: {}", topic, RdKafka::err2str(err));
      return true;  // refused for good: not worth holding
    }
    if (!wait) return false;
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
