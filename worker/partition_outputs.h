// Where a partition's output goes: rows to a feature store (SinkWriter) and
// refused records to a dead-letter topic (DeadLetterProducer). Interfaces, so
// the processing thread runs in tests against in-memory outputs.
//
// Thread: both are shared by every processing thread writing to the same
// store or Kafka cluster; implementations are thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "worker/partition_task.h"

namespace weir::worker {

class RowOutput {
 public:
  virtual ~RowOutput() = default;
  // Takes one partition's rows. Never blocks and never drops: a caller that
  // keeps going while !HasRoom() grows the queue (see backpressure).
  virtual void Enqueue(PendingRows rows) = 0;
  // Forgets queued rows of a partition its owner gave up (cancelled, moved).
  virtual void Drop(const std::string& job, int32_t partition) = 0;
  // False while `job`'s rows waiting reach the output's bound (per job, so
  // one job's stuck rows never pause another): the job's partitions writing
  // here pause until it is true again.
  virtual bool HasRoom(const std::string& job) const = 0;
  virtual const std::string& address() const = 0;
  // `job`'s rows waiting, in bytes.
  virtual size_t pending_bytes(const std::string& job) const = 0;
};

class DeadLetterOutput {
 public:
  virtual ~DeadLetterOutput() = default;
  // Queues one dead letter for `topic`; never drops it (may wait for room).
  virtual void Produce(const std::string& topic, const std::string& job, const DeadLetterRecord& record) = 0;
  // The same, but never waits: false, with nothing queued, when there is no
  // room now (the caller keeps the dead letter and tries again later).
  virtual bool TryProduce(const std::string& topic, const std::string& job, const DeadLetterRecord& record) = 0;
  // Serves delivery reports; cheap, called often.
  virtual void Poll() = 0;
};

}  // namespace weir::worker
