#include "engine/partition_engine.h"

#include <algorithm>

#include <xxhash.h>

#include "common/byte_codec.h"
#include "common/key_hash.h"

namespace weir::engine {
namespace {

constexpr std::string_view kSnapshotMagic = "WEIRSNAP";
// 2: sums carry their compensation, stddev its scale (engine/aggregates.h).
// Version 1 snapshots still restore, with both zero.
constexpr uint32_t kSnapshotVersion = 2;
constexpr uint32_t kOldestSnapshotVersion = 1;

// The field value `count` without a field sees: present.
const FieldValue kPresent{ValueType::kBool, true, 0, {}};

// Orders a record's value against a `where` constant of the same type: <0, 0,
// >0; `comparable` is false when the types differ.
int Compare(const FieldValue& v, const Scalar& c, bool* comparable) {
  *comparable = v.type == c.type;
  if (!*comparable) return 0;
  switch (v.type) {
    case ValueType::kNumber: return v.number < c.number ? -1 : (v.number > c.number ? 1 : 0);
    case ValueType::kString: {
      int r = v.text.compare(c.text);
      return r < 0 ? -1 : (r > 0 ? 1 : 0);
    }
    case ValueType::kBool: return static_cast<int>(v.boolean) - static_cast<int>(c.boolean);
    default: *comparable = false; return 0;
  }
}

// A filter on a missing field, or across types, is false (docs/semantics.md).
bool Matches(const FilterPlan& f, const FieldValue& v) {
  if (v.type == ValueType::kMissing) return false;
  bool comparable = false;
  if (f.op == FilterOp::kIn) {
    for (const Scalar& c : f.values) {
      if (Compare(v, c, &comparable) == 0 && comparable) return true;
    }
    return false;
  }
  int order = Compare(v, f.values.front(), &comparable);
  if (!comparable) return false;
  switch (f.op) {
    case FilterOp::kEq: return order == 0;
    case FilterOp::kNe: return order != 0;
    case FilterOp::kLt: return order < 0;
    case FilterOp::kLe: return order <= 0;
    case FilterOp::kGt: return order > 0;
    case FilterOp::kGe: return order >= 0;
    case FilterOp::kIn: return false;
  }
  return false;
}

}  // namespace

PartitionEngine::PartitionEngine(std::shared_ptr<const JobPlan> plan, RowSink* sink)
    : plan_(std::move(plan)), host_(*plan_, sink), key_ids_(0, KeyIdHash{&host_.keys_}, KeyIdEq{&host_.keys_}) {
  for (uint32_t f = 0; f < plan_->features.size(); ++f) features_.push_back(MakeFeatureOperator(host_, f));
  skipped_.assign(plan_->features.size(), 0);
  for (const FeaturePlan& f : plan_->features) key_retention_ = std::max({key_retention_, f.size, f.gap});
}

PartitionEngine::~PartitionEngine() = default;

bool PartitionEngine::Accepts(const FeaturePlan& f, const Event& e) const {
  for (const FilterPlan& filter : f.where) {
    if (!Matches(filter, e.fields[filter.slot])) return false;
  }
  return true;
}

void PartitionEngine::ProcessBatch(const Event* events, size_t n) {
  // Three stages ahead of the record in hand, each a cache miss apart: the
  // key-table probe (kTableAhead places on), the per-key state (kStateAhead;
  // its key-table slot is in cache by then), and the state's heap data
  // (kHeapAhead). Key ids found at the second stage are kept for the third;
  // they are only hints, so a key released in between costs nothing but a
  // wasted prefetch.
  constexpr size_t kTableAhead = 16;
  constexpr size_t kStateAhead = 8;
  constexpr size_t kHeapAhead = 3;
  constexpr uint32_t kUnknown = UINT32_MAX;
  uint32_t ids[kStateAhead];
  std::fill(std::begin(ids), std::end(ids), kUnknown);
  for (size_t i = 0; i < n; ++i) {
    if (i + kTableAhead < n) {
      key_ids_.prefetch(events[i + kTableAhead].key);
    }
    if (i + kStateAhead < n) {
      auto it = key_ids_.find(events[i + kStateAhead].key);
      uint32_t& id = ids[(i + kStateAhead) % kStateAhead];
      id = it == key_ids_.end() ? kUnknown : *it;
      if (id != kUnknown) {
        __builtin_prefetch(&host_.keys_[id]);
        for (const FeatureRuntime& rt : features_) rt.op->Prefetch(id, 0);
      }
    }
    if (i + kHeapAhead < n) {
      const uint32_t id = ids[(i + kHeapAhead) % kStateAhead];
      if (id != kUnknown) {
        for (const FeatureRuntime& rt : features_) rt.op->Prefetch(id, 1);
      }
    }
    Process(events[i]);
  }
}

void PartitionEngine::Process(const Event& e) {
  ++events_;
  bool new_key = false;
  const uint32_t key = KeyId(e.key, &new_key);
  bool added = false;
  bool too_late = false;
  for (uint32_t f = 0; f < features_.size(); ++f) {
    const FeaturePlan& fp = plan_->features[f];
    if (!fp.where.empty() && !Accepts(fp, e)) continue;
    const FieldValue& value = fp.slot >= 0 ? e.fields[fp.slot] : kPresent;
    FeatureRuntime& rt = features_[f];
    if (!rt.usable(value)) {
      ++skipped_[f];
      continue;
    }
    const AddResult r = rt.op->Add(key, e, value);
    if (r.outcome == AddOutcome::kAdded) {
      added = true;
    } else {
      too_late = true;
    }
    if (r.state_created) FeatureStateAdded(key);
    if (r.state_emptied) FeatureStateRemoved(key);  // queues the key as idle if it was the last
  }
  if (!added && too_late) {
    ++late_dead_letters_;
    host_.sink_->OnDeadLetter(DeadLetterReason::kLate, e,
                              "event time " + std::to_string(e.time) + " is behind watermark " +
                                  std::to_string(host_.watermark_) + " by more than the allowed lateness");
  }
  // A key that was known before keeps its state or was queued above; only a
  // new key that no feature took needs queuing.
  if (new_key && host_.keys_[key].live_features == 0) MarkIdle(key);

  if (e.time > host_.max_event_time_) {
    host_.max_event_time_ = e.time;
    if (!plan_->watermark_from_markers) AdvanceWatermark(SaturatingSub(e.time, plan_->max_out_of_orderness));
  }
  if (!idle_keys_.empty() && host_.watermark_ >= next_sweep_) SweepIdleKeys();
}

void PartitionEngine::FeatureStateAdded(uint32_t key) {
  if (host_.keys_[key].live_features++ == 0) ++live_keys_;
}

void PartitionEngine::FeatureStateRemoved(uint32_t key) {
  if (--host_.keys_[key].live_features == 0) {
    --live_keys_;
    MarkIdle(key);
  }
}

void PartitionEngine::MarkIdle(uint32_t key) {
  KeyEntry& entry = host_.keys_[key];
  if (entry.idle) return;
  entry.idle = 1;
  if (idle_keys_.size() == idle_keys_.capacity()) idle_keys_.reserve(idle_keys_.size() * 9 / 8 + 64);
  idle_keys_.push_back(key);
  // The watermark never decreases, so keys queue in runs of one `since`.
  if (idle_runs_.empty() || idle_runs_.back().since != host_.watermark_) {
    idle_runs_.push_back(IdleRun{idle_keys_.size(), host_.watermark_});
  } else {
    idle_runs_.back().end = idle_keys_.size();
  }
}

void PartitionEngine::SweepIdleKeys() {
  const int64_t w = host_.watermark_;
  size_t kept = 0;
  size_t kept_runs = 0;
  size_t i = 0;
  for (size_t run = 0; run < idle_runs_.size(); ++run) {
    const IdleRun r = idle_runs_[run];
    const size_t run_start = kept;
    for (; i < r.end; ++i) {
      const uint32_t key = idle_keys_[i];
      KeyEntry& entry = host_.keys_[key];
      if (entry.live_features != 0) {  // it came back
        entry.idle = 0;
        continue;
      }
      if (SaturatingSub(w, r.since) < key_retention_ && w != kMaxTime) {
        idle_keys_[kept++] = key;
        continue;
      }
      Release(key);
    }
    if (kept > run_start) idle_runs_[kept_runs++] = IdleRun{kept, r.since};
  }
  idle_keys_.resize(kept);
  idle_runs_.resize(kept_runs);
  next_sweep_ = SaturatingAdd(w, std::max<int64_t>(1, key_retention_ / 2));
}

void PartitionEngine::Release(uint32_t key) {
  KeyEntry& entry = host_.keys_[key];
  entry.idle = 0;
  key_ids_.erase(key_ids_.find(entry.text.view()));
  entry.text.Assign({});
  for (FeatureRuntime& rt : features_) rt.op->Clear(key);
  free_keys_.push_back(key);
}

void PartitionEngine::AdvanceWatermark(int64_t w) {
  if (w <= host_.watermark_) return;
  host_.watermark_ = w;
  FireTimers();
  if (w == kMaxTime) SweepIdleKeys();  // flushed: nothing can come back
}

void PartitionEngine::FireTimers() {
  auto& heaps = host_.timers_;
  const OperatorHost::TimerAfter after{&host_.keys_};
  int64_t last_time = kNoTime;
  uint32_t last_feature = 0;
  uint32_t last_key = 0;
  for (;;) {
    // The feature whose next due timer is earliest; ties go to the lower
    // feature, so timers fire in (time, feature, key hash, key) order.
    uint32_t f = UINT32_MAX;
    for (uint32_t i = 0; i < heaps.size(); ++i) {
      if (heaps[i].empty() || heaps[i].front().time > host_.watermark_) continue;
      if (f == UINT32_MAX || heaps[i].front().time < heaps[f].front().time) f = i;
    }
    if (f == UINT32_MAX) break;
    std::vector<TimerRef>& timers = heaps[f];
    std::pop_heap(timers.begin(), timers.end(), after);
    const TimerRef t = timers.back();
    timers.pop_back();
    if (!timers.empty()) features_[f].op->Prefetch(timers.front().key, 0);
    if (t.time == last_time && f == last_feature && t.key == last_key) continue;  // a duplicate
    last_time = t.time;
    last_feature = f;
    last_key = t.key;
    if (features_[f].op->OnTimer(t.key, t.time)) FeatureStateRemoved(t.key);
  }
}

uint32_t PartitionEngine::KeyId(std::string_view key, bool* created) {
  auto it = key_ids_.find(key);
  if (it != key_ids_.end()) return *it;
  *created = true;
  uint32_t id = 0;
  if (!free_keys_.empty()) {
    id = free_keys_.back();
    free_keys_.pop_back();
  } else {
    id = static_cast<uint32_t>(host_.keys_.size());
    // Grows by an eighth, not double: the table's slack is state too.
    if (host_.keys_.size() == host_.keys_.capacity()) host_.keys_.reserve(id + id / 8 + 64);
    host_.keys_.emplace_back();
    for (FeatureRuntime& rt : features_) rt.op->ResizeKeys(host_.keys_.size());
  }
  KeyEntry& entry = host_.keys_[id];
  entry.text.Assign(key);
  entry.live_features = 0;
  entry.idle = 0;
  key_ids_.insert(id);
  return id;
}

EngineStats PartitionEngine::stats() const {
  EngineStats s;
  s.events = events_;
  s.rows = host_.rows_emitted_;
  s.corrections = host_.corrections_emitted_;
  s.late_dead_letters = late_dead_letters_;
  s.skipped = skipped_;
  s.keys = live_keys_;
  return s;
}

size_t PartitionEngine::StateBytes() const {
  size_t bytes = sizeof(*this);
  for (const FeatureRuntime& rt : features_) bytes += rt.op->StateBytes();
  bytes += host_.keys_.capacity() * sizeof(KeyEntry);
  for (const KeyEntry& k : host_.keys_) bytes += k.text.HeapBytes();
  bytes += key_ids_.capacity() * (sizeof(uint32_t) + 1);
  for (const auto& heap : host_.timers_) bytes += heap.capacity() * sizeof(TimerRef);
  bytes += free_keys_.capacity() * sizeof(uint32_t) + idle_keys_.capacity() * sizeof(uint32_t) +
           idle_runs_.capacity() * sizeof(IdleRun);
  return bytes;
}

std::string PartitionEngine::Snapshot() const {
  ByteWriter w;
  w.PutRaw(kSnapshotMagic);
  w.Put<uint32_t>(kSnapshotVersion);
  w.Put<uint64_t>(plan_->fingerprint);
  w.Put<int64_t>(host_.watermark_);
  w.Put<int64_t>(host_.max_event_time_);
  w.PutVarint(events_);
  w.PutVarint(late_dead_letters_);
  w.PutVarint(host_.rows_emitted_);
  w.PutVarint(host_.corrections_emitted_);
  w.PutVarint(skipped_.size());
  for (uint64_t s : skipped_) w.PutVarint(s);
  w.PutVarint(live_keys_);
  for (uint32_t id = 0; id < host_.keys_.size(); ++id) {
    const KeyEntry& k = host_.keys_[id];
    if (k.live_features == 0) continue;
    w.PutString(k.text.view());
    for (const FeatureRuntime& rt : features_) {
      const bool present = !rt.op->Empty(id);
      w.Put<uint8_t>(present ? 1 : 0);
      if (present) rt.op->Serialize(id, w);
    }
  }
  const uint64_t checksum = XXH64(w.bytes().data(), w.bytes().size(), 0);
  w.Put<uint64_t>(checksum);
  return w.Take();
}

void PartitionEngine::Reset() {
  for (uint32_t id = 0; id < host_.keys_.size(); ++id) {
    for (FeatureRuntime& rt : features_) rt.op->Clear(id);
  }
  host_.keys_.clear();
  for (auto& heap : host_.timers_) heap.clear();
  host_.watermark_ = kMinTime;
  host_.rows_emitted_ = 0;
  host_.corrections_emitted_ = 0;
  key_ids_.clear();
  free_keys_.clear();
  idle_keys_.clear();
  idle_runs_.clear();
  live_keys_ = 0;
  next_sweep_ = kMinTime;
  host_.max_event_time_ = kMinTime;
  events_ = 0;
  late_dead_letters_ = 0;
  skipped_.assign(plan_->features.size(), 0);
}

Status PartitionEngine::Restore(std::string_view bytes) {
  Reset();
  const size_t header = kSnapshotMagic.size() + sizeof(uint32_t) + sizeof(uint64_t);
  if (bytes.size() < header + sizeof(uint64_t) || bytes.substr(0, kSnapshotMagic.size()) != kSnapshotMagic) {
    return DataLoss("snapshot is not a Weir partition snapshot (bad magic or truncated, " +
                    std::to_string(bytes.size()) + " bytes)");
  }
  const std::string_view body = bytes.substr(0, bytes.size() - sizeof(uint64_t));
  ByteReader tail(bytes.substr(body.size()));
  if (tail.Get<uint64_t>() != XXH64(body.data(), body.size(), 0)) {
    return DataLoss("snapshot checksum mismatch: the snapshot is corrupt");
  }
  ByteReader r(body.substr(kSnapshotMagic.size()));
  const auto version = r.Get<uint32_t>();
  if (version < kOldestSnapshotVersion || version > kSnapshotVersion) {
    return FailedPrecondition("snapshot format version " + std::to_string(version) + " is not supported (expected " +
                              std::to_string(kOldestSnapshotVersion) + " to " + std::to_string(kSnapshotVersion) + ")");
  }
  r.set_format_version(version);
  if (r.Get<uint64_t>() != plan_->fingerprint) {
    return FailedPrecondition(
        "snapshot was taken with a different job plan (features, key or event time changed); it cannot be restored "
        "into this job");
  }
  host_.watermark_ = r.Get<int64_t>();
  host_.max_event_time_ = r.Get<int64_t>();
  events_ = r.GetVarint();
  late_dead_letters_ = r.GetVarint();
  host_.rows_emitted_ = r.GetVarint();
  host_.corrections_emitted_ = r.GetVarint();
  const uint64_t nfeatures = r.GetVarint();
  if (nfeatures != features_.size()) r.Fail();
  for (uint64_t f = 0; f < nfeatures && r.ok(); ++f) skipped_[f] = r.GetVarint();
  const uint64_t nkeys = r.GetVarint();
  if (nkeys > r.remaining()) r.Fail();
  // Only what Snapshot writes is accepted, so a restored engine snapshots to
  // the same bytes: each key once, each with at least one feature's state,
  // and no state flagged present that restores empty.
  for (uint64_t i = 0; i < nkeys && r.ok(); ++i) {
    bool created = false;
    const uint32_t id = KeyId(r.GetString(), &created);
    if (!created) r.Fail();
    for (FeatureRuntime& rt : features_) {
      if (!r.ok()) break;
      if (r.Get<uint8_t>() == 0) continue;
      if (!rt.op->Deserialize(id, r) || rt.op->Empty(id)) {
        r.Fail();
        break;
      }
      FeatureStateAdded(id);
    }
    if (r.ok() && host_.keys_[id].live_features == 0) r.Fail();
  }
  if (!r.ok() || !r.done()) {
    Reset();
    return DataLoss("snapshot is malformed although its checksum matches (written by an incompatible build?)");
  }
  return Status::Ok();
}

}  // namespace weir::engine
