#include "worker/dead_letter_producer.h"

#include <librdkafka/rdkafkacpp.h>
#include <spdlog/spdlog.h>

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
                                                                       const std::string& client_id) {
  std::unique_ptr<DeadLetterProducer> p(new DeadLetterProducer());
  p->reports_ = std::make_unique<DeliveryReports>(&p->delivery_errors_);
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  if (conf->set("bootstrap.servers", brokers, err) != RdKafka::Conf::CONF_OK ||
      conf->set("client.id", client_id, err) != RdKafka::Conf::CONF_OK ||
      conf->set("linger.ms", "20", err) != RdKafka::Conf::CONF_OK ||
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
  for (;;) {
    RdKafka::Headers* headers = RdKafka::Headers::create();
    headers->add("reason", engine::DeadLetterReasonName(record.reason));
    headers->add("detail", record.detail);
    headers->add("job", job);
    headers->add("partition", std::to_string(record.partition));
    headers->add("offset", std::to_string(record.offset));
    const RdKafka::ErrorCode err = producer_->produce(
        topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY, const_cast<char*>(record.record.data()),
        record.record.size(), record.key.empty() ? nullptr : record.key.data(), record.key.size(), 0, headers, nullptr);
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
