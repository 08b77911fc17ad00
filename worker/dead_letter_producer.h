// DeadLetterProducer: writes refused records to a job's dead-letter topic
// (default `<job>.dlq`), the record's bytes as the value, its Kafka key as
// the key, and headers saying why and where it came from:
//   reason    decode | missing_field | bad_type | late | sink_refused
//   detail    a sentence for people
//   job, partition, offset   the source record's coordinates (decimal text)
//   truncated the value's original size in bytes, only when it was cut
// A dead letter larger than the largest message (kMaxMessageBytes, Kafka's
// default topic limit) is never lost: its value is cut to fit, its headers
// kept, and it is counted (`truncated`); one a topic with a lower limit
// refuses is sent again with its value halved until it fits.
//
// Lifecycle: one per brokers string, shared by the processing threads
// (librdkafka's producer is thread-safe). Flush(deadline) before destruction
// delivers what is queued.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "common/status.h"
#include "daemon/prometheus_fwd.h"
#include "worker/partition_outputs.h"
#include "worker/partition_task.h"

namespace RdKafka {
class Message;
class Producer;
}  // namespace RdKafka

namespace weir::worker {

class DeadLetterProducer final : public DeadLetterOutput {
 public:
  // The largest dead letter sent whole (librdkafka's message.max.bytes).
  static constexpr size_t kMaxMessageBytes = 1000000;

  // `truncated` (may be null) counts dead letters sent with a cut value,
  // `delivery_errors` (may be null) those that could not be delivered.
  static Result<std::unique_ptr<DeadLetterProducer>> Create(const std::string& brokers, const std::string& client_id,
                                                            prometheus::Counter* truncated = nullptr,
                                                            prometheus::Counter* delivery_errors = nullptr);
  ~DeadLetterProducer() override;

  // Queues one dead letter. When librdkafka's queue is full it waits (serving
  // delivery reports) until there is room: dead letters are never dropped
  // here, and a stuck broker slows the partition instead.
  void Produce(const std::string& topic, const std::string& job, const DeadLetterRecord& record) override;
  // The same without waiting: false (nothing queued) while the queue is full.
  bool TryProduce(const std::string& topic, const std::string& job, const DeadLetterRecord& record) override;
  // Serves delivery reports; cheap, call often.
  void Poll() override;
  // Waits until every queued dead letter is delivered or `timeout` passes.
  void Flush(std::chrono::milliseconds timeout);

  uint64_t delivery_errors() const { return delivery_errors_.load(); }
  uint64_t truncated() const { return truncated_.load(); }

 private:
  class DeliveryReports;
  DeadLetterProducer() = default;
  // Queues one dead letter; with `wait`, waits while the queue is full, else
  // returns false then. True once queued (or refused for good, counted).
  bool Queue(const std::string& topic, const std::string& job, const DeadLetterRecord& record, bool wait);
  void DeliveryFailed();
  void Truncated();
  // A dead letter the broker refused as too large, queued again with its
  // value halved (header `truncated` added once). False if it cannot be queued.
  bool Resend(RdKafka::Message& message);

  std::unique_ptr<DeliveryReports> reports_;
  std::unique_ptr<RdKafka::Producer> producer_;
  std::atomic<uint64_t> delivery_errors_{0};
  std::atomic<uint64_t> truncated_{0};
  prometheus::Counter* truncated_metric_ = nullptr;
  prometheus::Counter* delivery_errors_metric_ = nullptr;
};

}  // namespace weir::worker
