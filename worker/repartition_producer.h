// RepartitionProducer: stage 1 of a re-keyed job writes here. One idempotent
// librdkafka producer per stage-1 partition task, writing to the job's
// repartition topic "weir.<job>.repartition":
//   - a record goes, its bytes unchanged and keyed by the new key, to the
//     repartition partition Kafka's default partitioner (murmur2) picks for
//     that key, with headers weir.sp (source partition) and weir.so (source
//     offset);
//   - a watermark marker goes to one repartition partition, empty, with
//     headers weir.sp and weir.wm (the source partition's watermark).
// Every message queued counts in the task's rows_emitted, every one Kafka
// acknowledged in rows_acked: a stage-1 snapshot is reportable (the
// checkpoint machinery's rule for rows) only once Kafka holds every message
// queued before it. Idempotence keeps each partition's messages in order and
// never doubled by retries; a replay after a failure writes copies, which
// stage 2 drops by source offset.
//
// Lifecycle: made when the task starts, destroyed (after a bounded flush)
// when the task stops. Thread: the owning processing thread only;
// delivery reports run inside Produce and Poll.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"
#include "worker/job_runtime.h"
#include "worker/partition_counters.h"
#include "worker/partition_task.h"

namespace RdKafka {
class Producer;
}  // namespace RdKafka

namespace weir::worker {

class RepartitionProducer {
 public:
  // Errors: librdkafka refused a setting (the message names it).
  static Result<std::unique_ptr<RepartitionProducer>> Create(const JobRuntime& job, int32_t source_partition,
                                                             const std::string& client_id,
                                                             std::shared_ptr<PartitionCounters> counters);
  ~RepartitionProducer();
  RepartitionProducer(const RepartitionProducer&) = delete;
  RepartitionProducer& operator=(const RepartitionProducer&) = delete;

  // Queues one message; waits (serving delivery reports) while librdkafka's
  // queue is full. Never drops a message.
  void Produce(const ShuffleMessage& message);
  // Serves delivery reports; cheap, called often.
  void Poll();
  // Messages Kafka refused for good (a fatal producer error): the partition
  // cannot checkpoint past them and is failed with the reason.
  int64_t delivery_errors() const { return delivery_errors_.load(); }
  std::string last_error() const;

 private:
  class DeliveryReports;
  RepartitionProducer() = default;

  std::string topic_;
  std::string source_partition_;  // decimal text, the weir.sp header
  std::shared_ptr<PartitionCounters> counters_;
  std::unique_ptr<DeliveryReports> reports_;
  std::unique_ptr<RdKafka::Producer> producer_;
  std::atomic<int64_t> delivery_errors_{0};
  std::string last_error_;  // the owning thread's (delivery reports run on it)
};

}  // namespace weir::worker
