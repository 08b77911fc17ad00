// How the sink writer cuts rows into FeatureSink.Write messages the store
// accepts, and how it reads the store's refusals. Pure functions, no I/O.
//
// Both sides agree on one limit: the store's largest gRPC message
// (weir-featurestore --max-message-mib) equals the worker's
// (weir-worker --max-message-mib), 4 MiB by default. The writer keeps every
// WriteBatch message, serialized with its batch id, under WriteBatchBudget of
// that limit; a single row too large for a message alone can never be
// written and is refused for good (the job's dead-letter topic gets it).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "worker/partition_task.h"

namespace weir::worker {

// The most a serialized WriteBatch may take under a message limit of
// `max_message_bytes`: the limit less 1/16 of it (margin for framing and for
// a store whose limit is slightly lower).
size_t WriteBatchBudget(size_t max_message_bytes);

// `rows` cut into batches of the same job, partition, epoch and counters,
// in order, each serializing (batch id included) within `budget`, with
// `bytes` set to that size (a batch that fits whole is kept as it is). Rows
// that alone exceed the budget are moved, in order, to `too_large`, a batch
// with the same header (no rows: none).
struct SplitRows {
  std::vector<PendingRows> batches;
  PendingRows too_large;
};
SplitRows SplitForMessages(PendingRows rows, size_t budget);

// What a Write stream's final status means for its batches.
enum class WriteOutcome {
  kAcknowledged,  // OK: every batch is in the store
  kFenced,        // FAILED_PRECONDITION: a newer owner of the partition exists
  kRefused,       // permanent: retrying the same batch can never succeed
  kTooLarge,      // the message is over the store's size limit: smaller ones may pass
  kRetry,         // transient (UNAVAILABLE, DEADLINE_EXCEEDED, ...): retry with backoff
};
// `code` is the gRPC status code (as int), `message` its message. Permanent:
// INVALID_ARGUMENT, OUT_OF_RANGE; RESOURCE_EXHAUSTED for a message over a
// size limit ("... larger than max ...") is kTooLarge (the store's limit is
// below the worker's: the writer halves the batch, and refuses a single row
// for good); any other RESOURCE_EXHAUSTED (the store out of memory or disk)
// is transient.
WriteOutcome ClassifyWriteStatus(int code, std::string_view message);

// Refused rows as dead letters of the partition's dead-letter topic, reason
// sink_refused: each value is JSON lines of rows (protobuf's JSON form of
// FeatureRow), at most `max_value_bytes` per dead letter (a larger single row
// is left for the producer to truncate); `detail` says why.
std::vector<DeadLetterRecord> RefusedRowsAsDeadLetters(
    int32_t partition, const google::protobuf::RepeatedPtrField<weir::v1::FeatureRow>& rows, const std::string& detail,
    size_t max_value_bytes);

}  // namespace weir::worker
