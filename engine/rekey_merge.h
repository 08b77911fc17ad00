// RekeyMerge: what stage 2 of a re-keyed job knows about the source
// partitions feeding one repartition partition (docs/semantics.md, "Re-keyed
// jobs"): per source partition, the highest source offset applied and the
// latest watermark marker.
//
//   - A record whose source offset is at or below the highest one applied
//     from its source partition is a copy (stage 1 replayed after a failure,
//     or a zombie) and is dropped: Admit() says false.
//   - The watermark is the minimum over all source partitions of their latest
//     markers (kMinTime while any source partition sent none), and never
//     decreases.
//
// Lifecycle: one per stage-2 partition task (and per `weirctl replay
// --rekeyed`); its state is part of the partition's snapshot. Single-threaded,
// no I/O. The worker and weirctl replay share it, so a replay of the
// repartition topic's content computes what the job computed.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/types.h"

namespace weir::engine {

// Headers of the repartition topic's messages (decimal text values).
inline constexpr std::string_view kHeaderSourcePartition = "weir.sp";  // every message
inline constexpr std::string_view kHeaderSourceOffset = "weir.so";     // records
inline constexpr std::string_view kHeaderMarker = "weir.wm";           // markers: the source partition's watermark

// One message of the repartition topic, as stage 2 sees it.
struct RepartitionMeta {
  int32_t source_partition = -1;  // -1: the headers are missing or malformed
  int64_t source_offset = -1;     // records
  bool marker = false;
  int64_t watermark = kMinTime;  // markers
};

// Parses one header value (decimal text); false when it is not one.
bool ParseHeaderNumber(std::string_view text, int64_t* out);

class RekeyMerge {
 public:
  explicit RekeyMerge(int32_t source_partitions);

  int32_t source_partitions() const { return static_cast<int32_t>(sources_.size()); }
  // Whether a record from `source_partition` at `source_offset` is new (and
  // then records it as applied). False for a copy, and for a source
  // partition outside [0, source_partitions).
  bool Admit(int32_t source_partition, int64_t source_offset);
  // Takes a marker; returns the watermark after it. Markers of an unknown
  // source partition are ignored.
  int64_t OnMarker(int32_t source_partition, int64_t watermark);
  int64_t watermark() const { return watermark_; }
  uint64_t duplicates() const { return duplicates_; }
  uint64_t markers() const { return markers_; }

  // The state as bytes (versioned), and back. Restore fails (leaving the
  // merge as new) on corrupt bytes or another number of source partitions.
  std::string Snapshot() const;
  Status Restore(std::string_view bytes);

 private:
  struct Source {
    int64_t applied = -1;  // highest source offset applied
    int64_t marker = kMinTime;
    bool seen_marker = false;
  };
  std::vector<Source> sources_;
  int64_t watermark_ = kMinTime;
  uint64_t duplicates_ = 0;
  uint64_t markers_ = 0;
};

}  // namespace weir::engine
