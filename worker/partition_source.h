// PartitionSource: where a processing thread reads one job's partitions from.
// The worker's only production source is Kafka (kafka_partition_source.h);
// tests use an in-memory one, so the processing thread and the worker's
// reconcile logic run without a broker.
//
// A source is assigned partitions at explicit offsets (never a group
// subscription) and polled for batches of records, in offset order within
// each partition. A paused partition yields no new records until resumed, and
// resuming continues right after the last record Poll returned: nothing is
// skipped, nothing repeated.
//
// Lifecycle: made by a PartitionSourceFactory when a processing thread takes
// the first partition of a job, closed when it gives up the last one.
// Thread: used by exactly one processing thread; not thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/types.h"
#include "engine/rekey_merge.h"
#include "worker/job_runtime.h"

namespace weir::worker {

// Logical start offsets (librdkafka's values, so snapshots written before a
// partition's first record keep meaning the same).
inline constexpr KafkaOffset kOffsetBeginning{-2};
inline constexpr KafkaOffset kOffsetEnd{-1};

// One record of a poll. The views stay valid until the next Poll of the same
// source (or its destruction).
struct SourceRecord {
  PartitionId partition;
  KafkaOffset offset;
  std::string_view key;  // empty when the record has none
  std::string_view value;
  // Sources of a repartition topic (JobRuntime::reads_repartition) only: the
  // headers stage 1 wrote.
  engine::RepartitionMeta meta;
};

// How much one Poll may return and wait.
struct PollLimits {
  std::chrono::milliseconds first_wait{10};  // for the first record; 0: only what is already there
  size_t max_records = 10000;
  std::chrono::milliseconds max_time{5};  // stop collecting after this long
};

class PartitionSource {
 public:
  virtual ~PartitionSource() = default;

  // Starts reading `partition` at `offset` (an offset, kOffsetBeginning or
  // kOffsetEnd). An error says what the broker or client refused.
  [[nodiscard]] virtual Status Assign(PartitionId partition, KafkaOffset offset) = 0;
  // Stops reading `partition`; records of it already polled stay valid.
  virtual void Unassign(PartitionId partition) = 0;
  // Appends to *out the records available now, waiting up to
  // limits.first_wait for the first one. Transient client errors (a broker
  // restarting) are retried by the source and do not end the poll early.
  virtual void Poll(const PollLimits& limits, std::vector<SourceRecord>* out) = 0;
  virtual void Pause(PartitionId partition) = 0;
  virtual void Resume(PartitionId partition) = 0;
  // The partition's end (the offset its next record will get), as last
  // learnt from the brokers; nullopt while unknown.
  virtual std::optional<KafkaOffset> EndOffset(PartitionId partition) = 0;
  // Why `partition` cannot be read right now although it is assigned (its
  // brokers are unreachable, the topic is gone), for a user to act on; empty
  // while it reads or nothing is known to be wrong. The source keeps retrying,
  // except after an offset gap under source.on_offset_gap: stop, which stays
  // until the partition is unassigned.
  virtual std::string Problem(PartitionId partition) = 0;
  // The client cannot go on with the settings it was made with: the brokers
  // refused its credentials or its TLS handshake. The caller then closes the
  // source and makes a new one after a backoff, which resolves the job's
  // ${file:...}/${env:...} references again (a corrected secret file, a
  // renewed certificate), and assigns its partitions where they were.
  virtual bool WantsNewClient() { return false; }
  // A record, the partition's end, or its leader seen up came since it was
  // assigned.
  virtual bool ProvenReadable(PartitionId /*partition*/) { return true; }
  // Records of `partition` skipped over since the last call because Kafka no
  // longer had them (source.on_offset_gap: skip).
  virtual uint64_t TakeSkippedRecords(PartitionId /*partition*/) { return 0; }
};

// Makes the source of one job for a processing thread. An error (an invalid
// client setting) says what is wrong and what to do; the caller retries with
// backoff.
using PartitionSourceFactory = std::function<Result<std::unique_ptr<PartitionSource>>(const JobRuntime& job)>;

}  // namespace weir::worker
