// OperatorHost: what a window operator may use of its partition engine: the
// watermark, the timer service, the key table and the row output. Owned by
// PartitionEngine; used only on the thread that drives that engine.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <algorithm>

#include "common/byte_codec.h"
#include "common/key_hash.h"
#include "engine/key_text.h"
#include "engine/plan.h"
#include "engine/row.h"

namespace weir::engine {

// "No time": an unset timer or window end. No real window ends at -inf.
inline constexpr int64_t kNoTime = kMinTime;

// A timer of one key at `time`, in its feature's heap. 16 bytes: there is
// about one per key and feature.
struct TimerRef {
  int64_t time;
  uint32_t hash_hi;  // the key hash's upper half, so ordering mostly stays in cache
  uint32_t key;
};

// One entity key of a partition. Its hash (KeyHash) is recomputed where
// needed rather than kept: it orders timers, and TimerRef carries half of it.
struct KeyEntry {
  KeyText text;
  uint32_t live_features : 31 = 0;  // features holding state for this key
  uint32_t idle : 1 = 0;            // queued for release (live_features reached 0)
};
static_assert(sizeof(KeyEntry) == 20, "a key table entry is 20 bytes");

class OperatorHost {
 public:
  OperatorHost(const JobPlan& plan, RowSink* sink) : plan_(plan), sink_(sink), timers_(plan.features.size()) {}

  const JobPlan& plan() const { return plan_; }
  // W: the partition's watermark (docs/semantics.md).
  int64_t watermark() const { return watermark_; }
  int64_t lateness() const { return plan_.allowed_lateness; }

  // Asks for OnTimer(key, time) on `feature` once the watermark reaches `time`.
  // Timers fire in order of (time, feature, key hash, key text).
  void Schedule(int64_t time, uint32_t feature, uint32_t key) {
    const auto hash_hi = static_cast<uint32_t>(KeyHash(keys_[key].text.view()) >> 32);
    std::vector<TimerRef>& heap = timers_[feature];
    // Grows by an eighth, not double: about one timer per key is state too.
    if (heap.size() == heap.capacity()) heap.reserve(heap.size() * 9 / 8 + 64);
    heap.push_back(TimerRef{time, hash_hi, key});
    std::push_heap(heap.begin(), heap.end(), TimerAfter{&keys_});
  }

  // Emits one row for `key`.
  void Emit(uint32_t feature, uint32_t key, int64_t start, int64_t end, const RowValue& value, uint32_t revision) {
    FeatureRow row;
    row.feature = feature;
    row.key = keys_[key].text.view();
    row.window_start = start;
    row.window_end = end;
    row.value = value;
    row.revision = revision;
    // A row fired by an idle timeout or a flush, before any record passed its
    // end, counts as available at its end.
    row.available_at = std::max(max_event_time_, end);
    ++rows_emitted_;
    if (revision > 0) ++corrections_emitted_;
    sink_->OnRow(row);
  }

 private:
  friend class PartitionEngine;

  const JobPlan& plan_;
  RowSink* sink_;
  int64_t watermark_ = kMinTime;
  // The greatest event time seen (kMinTime before any): rows' available_at.
  int64_t max_event_time_ = kMinTime;
  // Fires in order of (time, feature, key hash, key text): the order of rows
  // never depends on key ids, which differ after a restore. (The feature is
  // the heap's; FireTimers picks among heaps.)
  struct TimerAfter {
    const std::vector<KeyEntry>* keys;
    bool operator()(const TimerRef& a, const TimerRef& b) const {
      if (a.time != b.time) return a.time > b.time;
      if (a.hash_hi != b.hash_hi) return a.hash_hi > b.hash_hi;
      if (a.key == b.key) return false;
      const std::string_view ta = (*keys)[a.key].text.view();
      const std::string_view tb = (*keys)[b.key].text.view();
      const uint64_t ha = KeyHash(ta);
      const uint64_t hb = KeyHash(tb);
      if (ha != hb) return ha > hb;
      return ta > tb;
    }
  };
  std::vector<std::vector<TimerRef>> timers_;  // by feature: min-heaps under TimerAfter
  std::vector<KeyEntry> keys_;
  uint64_t rows_emitted_ = 0;
  uint64_t corrections_emitted_ = 0;
};

// How one feature took one event.
enum class AddOutcome : uint8_t {
  kAdded,    // aggregated into at least one window
  kTooLate,  // every window it belongs to is gone (docs/semantics.md "allowed lateness")
};

// What Add did, including how the key's state changed for this feature, so
// the engine keeps its per-key counts without asking again.
struct AddResult {
  AddOutcome outcome = AddOutcome::kAdded;
  bool state_created = false;  // the key had no state for this feature before
  bool state_emptied = false;  // the key had state before and has none now
};

// One feature's window state for every key of a partition. Implemented by
// KeyedOperator below, and through it by the templates over window kind and
// aggregate (slice_operator.h, session_operator.h). Keys are dense ids from
// the engine's key table.
class FeatureOperator {
 public:
  virtual ~FeatureOperator() = default;

  // Makes room for key ids < n.
  virtual void ResizeKeys(size_t n) = 0;
  // Adds `value` (already filtered and Usable) of event `e` for `key`. May emit
  // corrections at once. REQUIRES: e.time is the record's event time.
  virtual AddResult Add(uint32_t key, const Event& e, const FieldValue& value) = 0;
  // The timer at `time` for `key` fired (the watermark reached it). Stale timers
  // are ignored. Returns true when this emptied the key's state.
  virtual bool OnTimer(uint32_t key, int64_t time) = 0;
  // True when the operator holds no state for `key`.
  virtual bool Empty(uint32_t key) const = 0;
  // Hints that `key` comes soon. Stage 0 starts loading its per-key state into
  // cache; stage 1, issued later, follows that state to its heap data (which
  // it reads, so stage 0 should have been issued some time before).
  virtual void Prefetch(uint32_t key, int stage) const = 0;
  // Drops all state of `key` (the slot will be reused).
  virtual void Clear(uint32_t key) = 0;

  // Writes `key`'s state. REQUIRES: !Empty(key).
  virtual void Serialize(uint32_t key, ByteWriter& w) const = 0;
  // Reads state written by Serialize into the empty slot `key` and schedules
  // its timer. False on malformed input.
  [[nodiscard]] virtual bool Deserialize(uint32_t key, ByteReader& r) = 0;
  // Bytes of state held for every key, inline and on the heap.
  virtual size_t StateBytes() const = 0;
};

// What every operator shares: its per-key state array, the state-change
// bookkeeping around Add, stale-timer filtering, and one live timer per key.
// `Derived` (CRTP) provides, without virtual calls:
//   AddOutcome AddTo(uint32_t key, KeyState& st, const Event& e, const FieldValue& v)
//   void Fire(uint32_t key, KeyState& st, int64_t time)   // the live timer at `time`
//   static void PrefetchHeap(const KeyState& st)          // the heap data Add touches first
// and `KeyState` has `bool empty() const`, `void Reset()` (to the default state)
// and `int64_t scheduled` (kNoTime = none).
template <typename Derived, typename KeyState>
class KeyedOperator : public FeatureOperator {
 public:
  KeyedOperator(OperatorHost& host, uint32_t feature)
      : host_(host), feature_(feature), plan_(host.plan().features[feature]) {}

  void ResizeKeys(size_t n) final {
    if (states_.size() >= n) return;
    // Grows by an eighth, not double: a per-key array's slack is state too.
    if (n > states_.capacity()) states_.reserve(n + n / 8 + 64);
    states_.resize(n);
  }

  AddResult Add(uint32_t key, const Event& e, const FieldValue& value) final {
    KeyState& st = states_[key];
    const bool was_empty = st.empty();
    AddResult r;
    r.outcome = static_cast<Derived*>(this)->AddTo(key, st, e, value);
    const bool now_empty = st.empty();
    r.state_created = was_empty && !now_empty;
    r.state_emptied = !was_empty && now_empty;
    return r;
  }

  bool OnTimer(uint32_t key, int64_t time) final {
    KeyState& st = states_[key];
    if (st.empty() || st.scheduled != time) return false;  // stale: replaced or gone
    st.scheduled = kNoTime;
    static_cast<Derived*>(this)->Fire(key, st, time);
    return st.empty();
  }

  bool Empty(uint32_t key) const final { return states_[key].empty(); }
  void Prefetch(uint32_t key, int stage) const final {
    if (key >= states_.size()) return;
    if (stage == 0) {
      // A KeyState may straddle two cache lines: fetch both ends.
      __builtin_prefetch(&states_[key]);
      __builtin_prefetch(reinterpret_cast<const char*>(&states_[key] + 1) - 1);
    } else {
      Derived::PrefetchHeap(states_[key]);
    }
  }
  void Clear(uint32_t key) final { states_[key].Reset(); }

 protected:
  // Keeps one live timer per key: schedules `due` when it is earlier than the
  // live one. A later `due` needs nothing: the earlier callback reschedules.
  void ScheduleIfEarlier(uint32_t key, KeyState& st, int64_t due) {
    if (due == kNoTime) return;
    if (st.scheduled == kNoTime || due < st.scheduled) {
      st.scheduled = due;
      host_.Schedule(due, feature_, key);
    }
  }

  OperatorHost& host_;
  const uint32_t feature_;
  const FeaturePlan& plan_;
  std::vector<KeyState> states_;  // by key id
};

}  // namespace weir::engine
