// KeyOwners: which source partition of a job wrote each (view, key), so the
// store notices a job whose topic is not partitioned by the job's key.
//
// A job that is not re-keyed computes each key in the one partition its
// records arrive in. When the topic is partitioned by another field, the same
// key arrives in several partitions, each computes a partial value, and the
// partials overwrite one another in the store, silently. The store is the one
// place that sees the rows of every partition, so it checks there: the first
// partition of a job to write a (view, key) owns it, and a row of that
// (view, key) from another partition of the same job is a conflict. The
// worker hears of it in the write's reply, counts it per partition, and
// `weirctl status` shows it with a hint to set `source.partitioned_by`.
//
// Why here and not in the worker, by checking each record's partition against
// Kafka's default partitioner: a producer may use any partitioner that keeps
// one key in one partition (a custom one, or a key other than the job's key
// mapped consistently), and that is correct for Weir; a partitioner check
// would flag it. This check flags only what is actually wrong: one key's rows
// coming from two partitions. It has no false alarm but one: a topic whose
// partition count grew moves keys between partitions, which splits their
// windows too, so that alarm is right as well. Rows written through Import
// (backfills) are not checked.
//
// Bounded: keys are tracked by a 64-bit hash of (job, view, key) — a false
// conflict needs two keys of one job with the same 64-bit hash — up to
// `capacity` keys, about 32 bytes each; keys beyond that are not tracked
// (counted in untracked()). Ownership lives in memory only: a store restart
// starts afresh, and a conflict is then noticed at the next rows of both
// partitions. Thread-safe: one mutex per shard.
#pragma once

#include <absl/base/thread_annotations.h>
#include <absl/container/flat_hash_map.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <string_view>

#include "common/mutex.h"

namespace weir::featurestore {

class KeyOwners {
 public:
  // At most `capacity` (job, view, key)s are tracked; 0 turns the check off.
  explicit KeyOwners(size_t capacity);

  // Records that `partition` of `job` wrote (view, key). Returns the
  // partition that owns it when that is another one: a conflict.
  std::optional<int32_t> Claim(std::string_view job, std::string_view view, std::string_view key, int32_t partition);

  bool enabled() const { return per_shard_ > 0; }
  // Keys tracked now, and keys seen once the table was full (not tracked).
  size_t tracked() const;
  uint64_t untracked() const { return untracked_.load(std::memory_order_relaxed); }

 private:
  static constexpr size_t kShards = 16;
  struct Shard {
    mutable weir::Mutex mu;
    absl::flat_hash_map<uint64_t, int32_t> owners ABSL_GUARDED_BY(mu);
  };

  const size_t per_shard_;
  std::array<Shard, kShards> shards_;
  std::atomic<uint64_t> untracked_{0};
};

}  // namespace weir::featurestore
