// PartitionEngine: the complete operator state of one keyed partition.
//
// It takes decoded events in offset order and applies docs/semantics.md:
// each event is aggregated into every feature that accepts it (its `where`
// filters pass and the aggregated field is usable), then the watermark
// W = max event time - max_out_of_orderness is raised, then every window with
// W >= end fires. Rows and dead letters go to the RowSink synchronously.
//
// Lifecycle: construct with a compiled plan and a sink; Process() records;
// Snapshot()/Restore() at any record boundary. Single-threaded: one engine is
// owned by exactly one processing thread. No I/O.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <absl/container/flat_hash_set.h>

#include "common/key_hash.h"
#include "common/status.h"
#include "engine/operator_factory.h"
#include "engine/operator_host.h"

namespace weir::engine {

// Counters of one partition, for metrics and tests.
struct EngineStats {
  uint64_t events = 0;             // records processed (dead letters included)
  uint64_t rows = 0;               // rows emitted, corrections included
  uint64_t corrections = 0;        // rows with revision > 0
  uint64_t late_dead_letters = 0;  // records sent to the dead-letter output as late
  std::vector<uint64_t> skipped;   // per feature: events whose field was missing or unusable
  size_t keys = 0;                 // keys holding state
};

class PartitionEngine {
 public:
  PartitionEngine(std::shared_ptr<const JobPlan> plan, RowSink* sink);
  ~PartitionEngine();
  PartitionEngine(const PartitionEngine&) = delete;
  PartitionEngine& operator=(const PartitionEngine&) = delete;

  // Processes one decoded record. REQUIRES: records arrive in offset order.
  void Process(const Event& e);
  // Processes `n` records in order, exactly as n calls to Process would, but
  // faster: it loads the key-table slots and per-key state of records a few
  // places ahead into cache while it works on the current one.
  void ProcessBatch(const Event* events, size_t n);

  // Raises the watermark to at least `w` (idle partitions; the end of a replay
  // with --flush passes kMaxTime) and fires what became due.
  void AdvanceWatermark(int64_t w);

  int64_t watermark() const { return host_.watermark(); }
  // The greatest event time seen, kMinTime before any.
  int64_t max_event_time() const { return host_.max_event_time_; }
  EngineStats stats() const;
  // Bytes of window state and key table, approximately (for benchmarks and
  // metrics). Walks every key: not for the hot path.
  size_t StateBytes() const;

  // The whole state as bytes: a versioned format with a checksum, which only
  // an engine of the same plan (fingerprint) can restore.
  std::string Snapshot() const;
  // Replaces this engine's state with a snapshot's. On error (corrupt bytes, a
  // different plan, an unknown version) the engine is left empty.
  Status Restore(std::string_view bytes);

 private:
  // The id of `key`, added to the key table when new (*created = true).
  uint32_t KeyId(std::string_view key, bool* created);
  // Bookkeeping when a feature's state for `key` appears or goes.
  void FeatureStateAdded(uint32_t key);
  void FeatureStateRemoved(uint32_t key);
  // Queues a key without state for release. Keys are released in batches, not
  // at once, because a key that just emptied usually gets its next event soon.
  void MarkIdle(uint32_t key);
  void SweepIdleKeys();
  // Drops a key's state and table entry; its id goes to free_keys_.
  void Release(uint32_t key);
  bool Accepts(const FeaturePlan& f, const Event& e) const;
  void FireTimers();
  void Reset();

  // The key table's index: key ids, hashed and compared by their text in
  // host_.keys_ (4 bytes a slot; looked up by string_view; KeyHash, XXH3, is
  // cheap for short keys).
  struct KeyIdHash {
    using is_transparent = void;
    const std::vector<KeyEntry>* keys;
    size_t operator()(std::string_view k) const { return KeyHash(k); }
    size_t operator()(uint32_t id) const { return (*this)((*keys)[id].text.view()); }
  };
  struct KeyIdEq {
    using is_transparent = void;
    const std::vector<KeyEntry>* keys;
    std::string_view Text(std::string_view k) const { return k; }
    std::string_view Text(uint32_t id) const { return (*keys)[id].text.view(); }
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      return Text(a) == Text(b);
    }
  };
  // Keys idle_keys_[previous run's end, end) went idle at watermark `since`.
  struct IdleRun {
    size_t end;
    int64_t since;
  };

  std::shared_ptr<const JobPlan> plan_;
  OperatorHost host_;
  std::vector<FeatureRuntime> features_;
  absl::flat_hash_set<uint32_t, KeyIdHash, KeyIdEq> key_ids_;
  std::vector<uint32_t> free_keys_;
  std::vector<uint32_t> idle_keys_;  // in the order they went idle
  std::vector<IdleRun> idle_runs_;   // idle_keys_ in runs of one watermark
  size_t live_keys_ = 0;             // keys with live_features > 0
  // A key idle for this long (of watermark) is released: the longest window
  // or session gap, so keys that come back every window keep their slot.
  int64_t key_retention_ = 0;
  int64_t next_sweep_ = kMinTime;
  uint64_t events_ = 0;
  uint64_t late_dead_letters_ = 0;
  std::vector<uint64_t> skipped_;
};

}  // namespace weir::engine
