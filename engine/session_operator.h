// SessionOperator: per-key session windows.
//
// An event at t opens [t, t + gap); sessions that overlap or touch merge, so a
// session is [first_t, last_t + gap). Per key the live sessions are kept sorted
// and disjoint. A session fires when W >= its end; it is kept until
// W >= end + L. A late event that lands in (or merges into) a kept session
// updates it, and if the result's end has passed it fires again at once with
// the next revision. A merged session carries the highest revision counter of
// the sessions it absorbed.
#pragma once

#include <algorithm>
#include <vector>

#include "engine/operator_host.h"

namespace weir::engine {

// One key's state in a SessionOperator.
template <typename Agg>
struct SessionKeyState {
  struct Session {
    int64_t start;
    int64_t end;
    Agg agg;
    uint32_t next_rev;  // the revision of this session's next firing
    bool emitted;       // its current content has been emitted
  };
  std::vector<Session> sessions;  // sorted, disjoint, not touching
  int64_t scheduled = kNoTime;    // the live timer's time

  bool empty() const { return sessions.empty(); }
  // Back to a default-constructed state.
  void Reset() { *this = SessionKeyState{}; }
};

template <typename Agg>
class SessionOperator final : public KeyedOperator<SessionOperator<Agg>, SessionKeyState<Agg>> {
  using Base = KeyedOperator<SessionOperator<Agg>, SessionKeyState<Agg>>;
  using KeyState = SessionKeyState<Agg>;
  using Session = typename KeyState::Session;
  using Base::feature_;
  using Base::host_;
  using Base::plan_;
  using Base::states_;

 public:
  SessionOperator(OperatorHost& host, uint32_t feature) : Base(host, feature), gap_(plan_.gap) {}

  AddOutcome AddTo(uint32_t key, KeyState& st, const Event& e, const FieldValue& value) {
    const int64_t w = host_.watermark();
    const int64_t lateness = host_.lateness();
    // Sessions that are gone form a prefix (ends are sorted, and every session
    // ending at or before W has fired by now).
    size_t gone = 0;
    while (gone < st.sessions.size() && SaturatingAdd(st.sessions[gone].end, lateness) <= w) ++gone;
    st.sessions.erase(st.sessions.begin(), st.sessions.begin() + static_cast<std::ptrdiff_t>(gone));

    const int64_t start = e.time;
    const int64_t end = SaturatingAdd(e.time, gap_);
    // The run [lo, hi) of sessions that overlap or touch [start, end).
    size_t hi = st.sessions.size();
    while (hi > 0 && st.sessions[hi - 1].start > end) --hi;
    size_t lo = hi;
    while (lo > 0 && st.sessions[lo - 1].end >= start) --lo;

    size_t at = lo;
    if (lo == hi) {
      if (SaturatingAdd(end, lateness) <= w) return AddOutcome::kTooLate;
      st.sessions.insert(st.sessions.begin() + static_cast<std::ptrdiff_t>(lo), Session{start, end, Agg{}, 0, false});
    } else {
      Session& merged = st.sessions[lo];
      merged.start = std::min(merged.start, start);
      for (size_t i = lo + 1; i < hi; ++i) {
        merged.agg.Merge(st.sessions[i].agg);
        merged.next_rev = std::max(merged.next_rev, st.sessions[i].next_rev);
      }
      merged.end = std::max(end, st.sessions[hi - 1].end);
      merged.emitted = false;
      st.sessions.erase(st.sessions.begin() + static_cast<std::ptrdiff_t>(lo + 1),
                        st.sessions.begin() + static_cast<std::ptrdiff_t>(hi));
    }
    Session& s = st.sessions[at];
    s.agg.Add(value, e.time, e.offset.value());
    s.emitted = false;
    if (s.end <= w) EmitSession(key, s);  // its time has passed: fire (again) now
    Reschedule(key, st);
    return AddOutcome::kAdded;
  }

  // Add reads the oldest sessions (to drop gone ones) and the newest.
  static void PrefetchHeap(const KeyState& st) {
    if (st.sessions.empty()) return;
    __builtin_prefetch(&st.sessions.front());
    __builtin_prefetch(&st.sessions.back());
  }

  void Fire(uint32_t key, KeyState& st, int64_t time) {
    for (Session& s : st.sessions) {
      if (s.end > time) break;
      if (!s.emitted) EmitSession(key, s);
    }
    const int64_t w = host_.watermark();
    size_t gone = 0;
    while (gone < st.sessions.size() && st.sessions[gone].emitted &&
           SaturatingAdd(st.sessions[gone].end, host_.lateness()) <= w) {
      ++gone;
    }
    st.sessions.erase(st.sessions.begin(), st.sessions.begin() + static_cast<std::ptrdiff_t>(gone));
    Reschedule(key, st);
  }

  void Serialize(uint32_t key, ByteWriter& w) const override {
    const KeyState& st = states_[key];
    w.PutVarint(st.sessions.size());
    for (const Session& s : st.sessions) {
      w.PutSignedVarint(s.start);
      w.PutSignedVarint(s.end);
      w.PutVarint(s.next_rev);
      w.Put<uint8_t>(s.emitted ? 1 : 0);
      s.agg.Serialize(w);
    }
  }

  bool Deserialize(uint32_t key, ByteReader& r) override {
    KeyState& st = states_[key];
    st = KeyState{};
    uint64_t n = r.GetVarint();
    if (n > r.remaining()) return false;
    st.sessions.resize(n);
    for (Session& s : st.sessions) {
      s.start = r.GetSignedVarint();
      s.end = r.GetSignedVarint();
      s.next_rev = static_cast<uint32_t>(r.GetVarint());
      s.emitted = r.Get<uint8_t>() != 0;
      if (!s.agg.Deserialize(r)) return false;
    }
    if (!r.ok()) return false;
    Reschedule(key, st);
    return true;
  }

  size_t StateBytes() const override {
    size_t bytes = states_.capacity() * sizeof(KeyState);
    for (const KeyState& st : states_) {
      bytes += st.sessions.capacity() * sizeof(Session);
      for (const Session& s : st.sessions) bytes += s.agg.HeapBytes();
    }
    return bytes;
  }

 private:
  void EmitSession(uint32_t key, Session& s) {
    host_.Emit(feature_, key, s.start, s.end, s.agg.Value(plan_), s.next_rev);
    ++s.next_rev;
    s.emitted = true;
  }

  // Keeps one timer live at min(first unfired end, earliest expiry).
  void Reschedule(uint32_t key, KeyState& st) {
    int64_t due = kNoTime;
    for (const Session& s : st.sessions) {
      if (!s.emitted) {
        due = s.end;
        break;
      }
    }
    if (!st.sessions.empty()) {
      int64_t expiry = SaturatingAdd(st.sessions.front().end, host_.lateness());
      if (st.sessions.front().emitted && (due == kNoTime || expiry < due)) due = expiry;
    }
    this->ScheduleIfEarlier(key, st, due);
  }

  const int64_t gap_;
};

}  // namespace weir::engine
