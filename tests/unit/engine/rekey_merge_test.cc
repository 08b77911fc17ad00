// RekeyMerge: stage 2's watermark over source partitions and its dropping
// of copies.
#include <catch2/catch.hpp>

#include "engine/rekey_merge.h"

namespace weir::engine {
namespace {

TEST_CASE("stage 2's watermark is the minimum of every source partition's latest marker and never falls", "[engine]") {
  RekeyMerge merge(3);
  CHECK(merge.OnMarker(0, 100) == kMinTime);  // sources 1 and 2 sent none yet
  CHECK(merge.OnMarker(1, 50) == kMinTime);
  CHECK(merge.OnMarker(2, 70) == 50);
  CHECK(merge.OnMarker(1, 200) == 70);
  CHECK(merge.OnMarker(2, 10) == 70);  // a replayed, older marker: the source's stays 70
  CHECK(merge.OnMarker(2, 300) == 100);
  CHECK(merge.OnMarker(7, 1000) == 100);  // not a source partition of the job
  CHECK(merge.watermark() == 100);
}

TEST_CASE("a record at or below the highest source offset applied from its partition is a copy", "[engine]") {
  RekeyMerge merge(2);
  CHECK(merge.Admit(0, 5));
  CHECK(merge.Admit(1, 5));  // partitions are independent
  CHECK(merge.Admit(0, 9));
  CHECK_FALSE(merge.Admit(0, 9));
  CHECK_FALSE(merge.Admit(0, 6));  // a stage-1 replay from an older checkpoint
  CHECK(merge.Admit(0, 10));
  CHECK_FALSE(merge.Admit(2, 0));  // not a source partition
  CHECK_FALSE(merge.Admit(-1, 0));
  CHECK(merge.duplicates() == 2);
}

TEST_CASE("the merge's snapshot restores the offsets applied and the markers", "[engine]") {
  RekeyMerge merge(2);
  REQUIRE(merge.Admit(0, 41));
  merge.OnMarker(0, 500);
  merge.OnMarker(1, 400);
  RekeyMerge restored(2);
  REQUIRE(restored.Restore(merge.Snapshot()).ok());
  CHECK(restored.watermark() == 400);
  CHECK_FALSE(restored.Admit(0, 41));
  CHECK(restored.Admit(0, 42));
  CHECK(restored.OnMarker(1, 600) == 500);

  RekeyMerge other(3);  // the job's source partitions changed
  const Status s = other.Restore(merge.Snapshot());
  REQUIRE_FALSE(s.ok());
  CHECK(s.message().find("2 source partitions, the job now has 3") != std::string::npos);
  CHECK_FALSE(RekeyMerge(2).Restore("garbage").ok());
}

}  // namespace
}  // namespace weir::engine
