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
//
// Block cache (sliding windows of 16 or more slices): slices fall into fixed
// blocks of `block_` consecutive slice positions (aligned to multiples of
// block_ * slide, so a block is the same whatever window looks at it). A
// window's value is always combined per block first (its slices in order),
// then across blocks in order; a block that lies wholly inside a firing window
// has its combination cached and reused by the next windows that contain it.
// Because the cached value is exactly what combining its slices again gives,
// the bits of a row never depend on whether the cache was warm: the cache is
// not part of a snapshot, and a restored engine recomputes it as windows fire.
// Any change to a block's slices (an event, a dropped slice) drops its entry.
#pragma once

#include <algorithm>
#include <cmath>
#include <memory>
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
  // The combined slices of one cache block (see SliceOperator).
  struct Block {
    int64_t index;   // FloorDiv(slice start, block length)
    uint32_t count;  // its slices, so a window skips them unread
    Agg agg;
  };
  // What a tumbling window without allowed lateness never needs, on the heap
  // so that the per-key state of the common case stays small.
  struct Extra {
    std::vector<Rev> revs;      // sorted by end
    std::vector<Block> blocks;  // sorted by index; a cache, never serialized
  };
  // Sorted by start. Two inline: all a tumbling key holds (the window being
  // filled and, until it fires, the one before it).
  absl::InlinedVector<Slice, 2> slices;
  std::unique_ptr<Extra> extra;  // null until needed
  int64_t next_fire = kNoTime;   // the smallest window end > W holding a slice
  int64_t scheduled = kNoTime;   // the live timer's time

  bool empty() const { return slices.empty() && (extra == nullptr || extra->revs.empty()); }
  // Back to a default-constructed state, heap memory freed.
  void Reset() {
    slices.clear();
    slices.shrink_to_fit();
    extra.reset();
    next_fire = kNoTime;
    scheduled = kNoTime;
  }
  Extra& GetExtra() {
    if (extra == nullptr) extra = std::make_unique<Extra>();
    return *extra;
  }
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
  using Block = typename KeyState::Block;

  SliceOperator(OperatorHost& host, uint32_t feature)
      : Base(host, feature), size_(plan_.size), slide_(plan_.slide), block_(BlockSlices(size_ / slide_)) {}

  // Slices per cache block for windows of `n` slices: about sqrt(n), so a
  // window combines about 3 sqrt(n) values instead of n; 0 (no cache) below
  // 16 slices. A function of the plan only, so the combine order is too.
  static int64_t BlockSlices(int64_t n) {
    if (n < 16) return 0;
    return static_cast<int64_t>(std::lround(std::sqrt(static_cast<double>(n))));
  }

  AddOutcome AddTo(uint32_t key, KeyState& st, const Event& e, const FieldValue& value) {
    const int64_t w = host_.watermark();
    const int64_t start = FloorDiv(e.time, slide_) * slide_;
    const int64_t last_end = SaturatingAdd(start, size_);
    if (SaturatingAdd(last_end, host_.lateness()) <= w) return AddOutcome::kTooLate;

    SliceAt(st, start).agg.Add(value, e.time, e.offset.value());
    // Only a block that ends by W can be cached (a window holding all of it
    // fired), so only a late record can touch one: on-time ones skip the
    // cache's cache misses.
    if (block_ != 0 && SaturatingAdd(BlockOf(start) * block_ * slide_, block_ * slide_) <= w && st.extra != nullptr) {
      DropBlocks(st, BlockOf(start), BlockOf(start));
    }

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
    const size_t nrevs = st.extra == nullptr ? 0 : st.extra->revs.size();
    w.PutVarint(nrevs);
    for (size_t i = 0; i < nrevs; ++i) {
      const Rev& r = st.extra->revs[i];
      w.PutSignedVarint(r.end);
      w.PutVarint(r.next);
    }
    w.PutSignedVarint(st.next_fire);
  }

  bool Deserialize(uint32_t key, ByteReader& r) override {
    KeyState& st = states_[key];
    st.Reset();
    uint64_t n = r.GetVarint();
    if (n > r.remaining()) return false;
    st.slices.resize(n);
    for (Slice& s : st.slices) {
      s.start = r.GetSignedVarint();
      if (!s.agg.Deserialize(r)) return false;
    }
    n = r.GetVarint();
    if (n > r.remaining()) return false;
    if (n > 0) st.GetExtra().revs.resize(n);
    for (size_t i = 0; i < n; ++i) {
      Rev& rev = st.extra->revs[i];
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
      for (const Slice& s : st.slices) bytes += s.agg.HeapBytes();
      if (st.extra != nullptr) {
        bytes += sizeof(typename KeyState::Extra) + st.extra->revs.capacity() * sizeof(Rev) +
                 st.extra->blocks.capacity() * sizeof(Block);
        for (const Block& b : st.extra->blocks) bytes += b.agg.HeapBytes();
      }
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
    // Slices before the window are few (those kept for lateness): a scan
    // from the front reads fewer cache lines than a binary search.
    auto first = st.slices.begin();
    while (first != st.slices.end() && first->start < start) ++first;
    if (first == st.slices.end() || first->start >= end) return;
    std::vector<Rev>* revs = st.extra == nullptr ? nullptr : &st.extra->revs;
    auto rev = revs == nullptr ? typename std::vector<Rev>::iterator{}
                               : std::lower_bound(revs->begin(), revs->end(), end,
                                                  [](const Rev& r, int64_t t) { return r.end < t; });
    const bool known = revs != nullptr && rev != revs->end() && rev->end == end;
    const uint32_t revision = known ? rev->next : 0;
    if (size_ == slide_ || std::next(first) == st.slices.end() || std::next(first)->start >= end) {
      host_.Emit(feature_, key, start, end, first->agg.Value(plan_), revision);
    } else {
      auto last = st.slices.end();  // windows mostly fire with their newest slice
      while (std::prev(last)->start >= end) --last;
      const Agg acc = block_ == 0 ? Fold(first, last) : CombineBlocks(st, first, last, start, end);
      host_.Emit(feature_, key, start, end, acc.Value(plan_), revision);
    }
    if (SaturatingAdd(end, host_.lateness()) > host_.watermark()) {
      if (known) {
        rev->next = revision + 1;
      } else {
        // GetExtra may allocate: look the place up again.
        std::vector<Rev>& r = st.GetExtra().revs;
        r.insert(std::lower_bound(r.begin(), r.end(), end, [](const Rev& x, int64_t t) { return x.end < t; }),
                 Rev{end, revision + 1});
      }
    }
  }

  using SliceIt = typename absl::InlinedVector<Slice, 2>::iterator;

  // The slices [first, last) combined in order.
  static Agg Fold(SliceIt first, SliceIt last) {
    Agg acc = first->agg;
    for (auto it = std::next(first); it != last; ++it) acc.Merge(it->agg);
    return acc;
  }

  // The cache block of the slice starting at `start`.
  int64_t BlockOf(int64_t start) const { return FloorDiv(start, block_ * slide_); }

  // Combines the window [start, end)'s slices [first, last) (non-empty) per
  // block, then across blocks, both in order; blocks wholly inside the window
  // come from the cache (filled on a miss) without reading their slices. The
  // same order with or without the cache, so the same bits.
  Agg CombineBlocks(KeyState& st, SliceIt first, SliceIt last, int64_t start, int64_t end) {
    const int64_t block_len = block_ * slide_;
    std::vector<Block>& cache = st.GetExtra().blocks;
    const int64_t b_first = BlockOf(first->start);
    const int64_t b_last = BlockOf(std::prev(last)->start);
    size_t ci = static_cast<size_t>(
        std::lower_bound(cache.begin(), cache.end(), b_first, [](const Block& x, int64_t t) { return x.index < t; }) -
        cache.begin());
    Agg acc;
    bool have = false;
    auto put = [&](const Agg& g) {
      if (have) {
        acc.Merge(g);
      } else {
        acc = g;
        have = true;
      }
    };
    SliceIt it = first;
    for (int64_t b = b_first; b <= b_last && it != last; ++b) {
      const int64_t b_start = b * block_len;
      const int64_t b_end = SaturatingAdd(b_start, block_len);
      const bool whole = b_start >= start && b_end <= end;
      while (ci < cache.size() && cache[ci].index < b) ++ci;
      if (whole && ci < cache.size() && cache[ci].index == b) {
        put(cache[ci].agg);
        it += cache[ci].count;
        ++ci;
        continue;
      }
      if (it->start >= b_end) continue;  // no slice in this block
      // A block holds at most block_ slices.
      const SliceIt next = std::lower_bound(it, last - it > block_ ? it + block_ : last, b_end,
                                            [](const Slice& x, int64_t t) { return x.start < t; });
      const Agg g = Fold(it, next);
      put(g);
      if (whole) {
        cache.insert(cache.begin() + static_cast<std::ptrdiff_t>(ci), Block{b, static_cast<uint32_t>(next - it), g});
        ++ci;
      }
      it = next;
    }
    return acc;
  }

  // Forgets the cached blocks with index in [lo, hi].
  static void DropBlocks(KeyState& st, int64_t lo, int64_t hi) {
    std::vector<Block>& blocks = st.extra->blocks;
    auto from =
        std::lower_bound(blocks.begin(), blocks.end(), lo, [](const Block& x, int64_t t) { return x.index < t; });
    auto to = from;
    while (to != blocks.end() && to->index <= hi) ++to;
    blocks.erase(from, to);
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
    if (drop > 0 && block_ != 0 && st.extra != nullptr) {
      // Blocks that lost slices, the last one perhaps only some of them.
      DropBlocks(st, kMinTime, BlockOf(st.slices[drop - 1].start));
    }
    st.slices.erase(st.slices.begin(), st.slices.begin() + static_cast<std::ptrdiff_t>(drop));
    if (st.extra != nullptr) {
      std::vector<Rev>& revs = st.extra->revs;
      drop = 0;
      while (drop < revs.size() && SaturatingAdd(revs[drop].end, lateness) <= w) ++drop;
      revs.erase(revs.begin(), revs.begin() + static_cast<std::ptrdiff_t>(drop));
      if (revs.empty() && st.extra->blocks.empty()) st.extra.reset();
    }
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
    if (st.extra != nullptr && !st.extra->revs.empty()) {
      int64_t expiry = SaturatingAdd(st.extra->revs.front().end, lateness);
      if (due == kNoTime || expiry < due) due = expiry;
    }
    if (due != kNoTime && st.next_fire != kNoTime && due <= host_.watermark()) due = st.next_fire;
    this->ScheduleIfEarlier(key, st, due);
  }

  const int64_t size_;
  const int64_t slide_;
  const int64_t block_;  // slices per cache block; 0: no cache
};

}  // namespace weir::engine
