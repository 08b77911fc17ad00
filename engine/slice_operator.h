// SliceOperator: tumbling and sliding windows over shared slices.
//
// Time is cut into slices of length `slide` (== size for tumbling). An event
// updates exactly one slice per key, whatever size/slide is; a window
// [e - size, e) is combined from its size/slide slices only when it fires.
// Window ends are multiples of `slide`.
//
// Per key it keeps the live slices, the revision counters of windows that
// fired and are still kept (allowed lateness), and `next_fire`: the smallest
// window end > W that holds a slice. One timer per key is live at a time, at
// min(next_fire, earliest expiry); each callback fires at most the window
// ending at its time, so rows come out in (window end, feature, key) order.
#pragma once

#include <algorithm>
#include <vector>

#include <absl/container/inlined_vector.h>

#include "engine/operator_host.h"

namespace weir::engine {

// One key's state in a SliceOperator.
template <typename Agg>
struct SliceKeyState {
  struct Slice {
    int64_t start;
    Agg agg;
  };
  // A fired window that is still kept, and the revision its next firing gets.
  struct Rev {
    int64_t end;
    uint32_t next;
  };
  std::vector<Slice> slices;    // sorted by start
  std::vector<Rev> revs;        // sorted by end
  int64_t next_fire = kNoTime;  // the smallest window end > W holding a slice
  int64_t scheduled = kNoTime;  // the live timer's time

  bool empty() const { return slices.empty() && revs.empty(); }
};

template <typename Agg>
class SliceOperator final : public KeyedOperator<SliceOperator<Agg>, SliceKeyState<Agg>> {
  using Base = KeyedOperator<SliceOperator<Agg>, SliceKeyState<Agg>>;
  using KeyState = SliceKeyState<Agg>;
  using Slice = typename KeyState::Slice;
  using Rev = typename KeyState::Rev;
  using Base::feature_;
  using Base::host_;
  using Base::plan_;
  using Base::states_;

 public:
  SliceOperator(OperatorHost& host, uint32_t feature) : Base(host, feature), size_(plan_.size), slide_(plan_.slide) {}

  AddOutcome AddTo(uint32_t key, KeyState& st, const Event& e, const FieldValue& value) {
    const int64_t w = host_.watermark();
    const int64_t start = FloorDiv(e.time, slide_) * slide_;
    const int64_t last_end = SaturatingAdd(start, size_);
    if (SaturatingAdd(last_end, host_.lateness()) <= w) return AddOutcome::kTooLate;

    SliceAt(st, start).agg.Add(value, e.time, e.offset.value());

    // Windows holding this slice that already fired but are kept: correct now.
    const int64_t first_end = SaturatingAdd(start, slide_);
    if (first_end <= w) {
      for (int64_t end = first_end; end <= last_end && end <= w; end += slide_) {
        if (SaturatingAdd(end, host_.lateness()) > w) EmitWindow(key, st, end);
        if (end > kMaxTime - slide_) break;
      }
    }
    // The first window holding it that has not fired yet.
    int64_t pending = first_end > w ? first_end : AlignedEndAfter(w);
    if (pending <= last_end && (st.next_fire == kNoTime || pending < st.next_fire)) st.next_fire = pending;
    // The live timer is already no later than every earlier due time, so only
    // the new ones count: the next fire and this slice's expiry (revision
    // counters added above expire earlier, but the slice's timer cleans them).
    // This spares a read of the oldest slice on the hot path.
    int64_t due = SaturatingAdd(last_end, host_.lateness());
    if (st.next_fire != kNoTime && st.next_fire < due) due = st.next_fire;
    this->ScheduleIfEarlier(key, st, due);
    return AddOutcome::kAdded;
  }

  // Add reads the newest slice first.
  static void PrefetchHeap(const KeyState& st) {
    if (!st.slices.empty()) __builtin_prefetch(&st.slices.back());
  }

  void Fire(uint32_t key, KeyState& st, int64_t time) {
    if (st.next_fire == time) {
      EmitWindow(key, st, time);
      st.next_fire = NextFireAfter(st, time);
    }
    Cleanup(st);
    Reschedule(key, st);
  }

  void Serialize(uint32_t key, ByteWriter& w) const override {
    const KeyState& st = states_[key];
    w.PutVarint(st.slices.size());
    for (const Slice& s : st.slices) {
      w.PutSignedVarint(s.start);
      s.agg.Serialize(w);
    }
    w.PutVarint(st.revs.size());
    for (const Rev& r : st.revs) {
      w.PutSignedVarint(r.end);
      w.PutVarint(r.next);
    }
    w.PutSignedVarint(st.next_fire);
  }

  bool Deserialize(uint32_t key, ByteReader& r) override {
    KeyState& st = states_[key];
    st = KeyState{};
    uint64_t n = r.GetVarint();
    if (n > r.remaining()) return false;
    st.slices.resize(n);
    for (Slice& s : st.slices) {
      s.start = r.GetSignedVarint();
      if (!s.agg.Deserialize(r)) return false;
    }
    n = r.GetVarint();
    if (n > r.remaining()) return false;
    st.revs.resize(n);
    for (Rev& rev : st.revs) {
      rev.end = r.GetSignedVarint();
      rev.next = static_cast<uint32_t>(r.GetVarint());
    }
    st.next_fire = r.GetSignedVarint();
    if (!r.ok()) return false;
    Reschedule(key, st);
    return true;
  }

  size_t StateBytes() const override {
    size_t bytes = states_.capacity() * sizeof(KeyState);
    for (const KeyState& st : states_) {
      if (st.slices.capacity() > 2) bytes += st.slices.capacity() * sizeof(Slice);
      bytes += st.revs.capacity() * sizeof(Rev);
      for (const Slice& s : st.slices) bytes += s.agg.HeapBytes();
    }
    return bytes;
  }

 private:
  // The slice starting at `start`, created if absent. Events mostly arrive in
  // order, so the search runs from the back.
  Slice& SliceAt(KeyState& st, int64_t start) {
    auto it = st.slices.end();
    while (it != st.slices.begin() && std::prev(it)->start > start) --it;
    if (it != st.slices.begin() && std::prev(it)->start == start) return *std::prev(it);
    return *st.slices.insert(it, Slice{start, Agg{}});
  }

  // The smallest window end strictly greater than w.
  int64_t AlignedEndAfter(int64_t w) const {
    if (w == kMinTime) return kMinTime;
    return SaturatingAdd(FloorDiv(w, slide_) * slide_, slide_);
  }

  // The smallest window end > `end` whose window holds a slice, or kNoTime.
  int64_t NextFireAfter(const KeyState& st, int64_t end) const {
    const int64_t min_start = SaturatingAdd(SaturatingSub(end, size_), slide_);
    for (const Slice& s : st.slices) {
      if (s.start >= min_start) return std::max(SaturatingAdd(end, slide_), SaturatingAdd(s.start, slide_));
    }
    return kNoTime;
  }

  // Combines the slices of window [end - size, end) and emits it, with the
  // revision that window is due; remembers the next revision while the window
  // is kept.
  void EmitWindow(uint32_t key, KeyState& st, int64_t end) {
    const int64_t start = SaturatingSub(end, size_);
    auto first = std::lower_bound(st.slices.begin(), st.slices.end(), start,
                                  [](const Slice& s, int64_t t) { return s.start < t; });
    if (first == st.slices.end() || first->start >= end) return;
    auto rev = std::lower_bound(st.revs.begin(), st.revs.end(), end, [](const Rev& r, int64_t t) { return r.end < t; });
    const bool known = rev != st.revs.end() && rev->end == end;
    const uint32_t revision = known ? rev->next : 0;
    if (size_ == slide_ || std::next(first) == st.slices.end() || std::next(first)->start >= end) {
      host_.Emit(feature_, key, start, end, first->agg.Value(plan_), revision);
    } else {
      Agg acc = first->agg;
      for (auto it = std::next(first); it != st.slices.end() && it->start < end; ++it) acc.Merge(it->agg);
      host_.Emit(feature_, key, start, end, acc.Value(plan_), revision);
    }
    if (SaturatingAdd(end, host_.lateness()) > host_.watermark()) {
      if (known) {
        rev->next = revision + 1;
      } else {
        st.revs.insert(rev, Rev{end, revision + 1});
      }
    }
  }

  // Drops slices whose every window is gone (W >= slice end + L) and has fired,
  // and revision counters of windows that are gone.
  void Cleanup(KeyState& st) {
    const int64_t w = host_.watermark();
    const int64_t lateness = host_.lateness();
    size_t drop = 0;
    while (drop < st.slices.size()) {
      const int64_t last_end = SaturatingAdd(st.slices[drop].start, size_);
      if (SaturatingAdd(last_end, lateness) > w) break;
      if (st.next_fire != kNoTime && last_end >= st.next_fire) break;
      ++drop;
    }
    st.slices.erase(st.slices.begin(), st.slices.begin() + static_cast<std::ptrdiff_t>(drop));
    drop = 0;
    while (drop < st.revs.size() && SaturatingAdd(st.revs[drop].end, lateness) <= w) ++drop;
    st.revs.erase(st.revs.begin(), st.revs.begin() + static_cast<std::ptrdiff_t>(drop));
    if (st.slices.empty()) st.next_fire = kNoTime;
  }

  // Keeps one timer live at min(next fire, earliest expiry). An expiry already
  // passed while a window is pending waits for that window: the slices it
  // needs cannot go before it fires, and a timer at a passed time would spin.
  void Reschedule(uint32_t key, KeyState& st) {
    int64_t due = st.next_fire;
    const int64_t lateness = host_.lateness();
    if (!st.slices.empty()) {
      int64_t expiry = SaturatingAdd(SaturatingAdd(st.slices.front().start, size_), lateness);
      if (due == kNoTime || expiry < due) due = expiry;
    }
    if (!st.revs.empty()) {
      int64_t expiry = SaturatingAdd(st.revs.front().end, lateness);
      if (due == kNoTime || expiry < due) due = expiry;
    }
    if (due != kNoTime && st.next_fire != kNoTime && due <= host_.watermark()) due = st.next_fire;
    this->ScheduleIfEarlier(key, st, due);
  }

  const int64_t size_;
  const int64_t slide_;
};

}  // namespace weir::engine
