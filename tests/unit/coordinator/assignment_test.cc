// Partition assignment: balanced, sticky, fenced by epochs.
#include <catch2/catch.hpp>

#include <random>
#include <set>

#include "coordinator/assignment.h"

using weir::coordinator::Assign;
using weir::coordinator::Assignment;
using weir::coordinator::Moves;
using weir::coordinator::MovesBetween;
using P = weir::PartitionId;
using E = weir::Epoch;

namespace {

std::map<std::string, int> Loads(const Assignment& a) {
  std::map<std::string, int> loads;
  for (const auto& [p, owner] : a) ++loads[owner.worker];
  return loads;
}

// Every partition owned by a live worker, loads within one of each other.
void CheckBalanced(const Assignment& a, int32_t partitions, const std::vector<std::string>& live) {
  REQUIRE(a.size() == static_cast<size_t>(partitions));
  const std::set<std::string> alive(live.begin(), live.end());
  for (const auto& [p, owner] : a) REQUIRE(alive.count(owner.worker) == 1);
  auto loads = Loads(a);
  int lo = partitions, hi = 0;
  for (const auto& w : live) {
    lo = std::min(lo, loads[w]);
    hi = std::max(hi, loads[w]);
  }
  CHECK(hi - lo <= 1);
}

}  // namespace

TEST_CASE("a first assignment is balanced and starts every epoch at 1", "[coordinator][assignment]") {
  const auto a = Assign(4, {"w1", "w2"}, {});
  CheckBalanced(a, 4, {"w1", "w2"});
  CHECK(a.at(P(0)).worker == "w1");
  CHECK(a.at(P(1)).worker == "w1");
  CHECK(a.at(P(2)).worker == "w2");
  CHECK(a.at(P(3)).worker == "w2");
  for (const auto& [p, owner] : a) CHECK(owner.epoch == E(1));
}

TEST_CASE("a worker that joins takes only its share, the rest stay put", "[coordinator][assignment]") {
  const auto before = Assign(12, {"w1", "w2"}, {});
  const auto after = Assign(12, {"w1", "w2", "w3"}, before);
  CheckBalanced(after, 12, {"w1", "w2", "w3"});
  CHECK(Moves(before, after) == 4);
  for (const auto& [p, owner] : after) {
    const bool moved = owner.worker != before.at(p).worker;
    CHECK(owner.epoch.value() == before.at(p).epoch.value() + (moved ? 1 : 0));
    if (moved) CHECK(owner.worker == "w3");
  }
}

TEST_CASE("a worker that leaves hands over exactly its partitions", "[coordinator][assignment]") {
  const auto before = Assign(10, {"w1", "w2", "w3"}, {});
  const auto after = Assign(10, {"w1", "w3"}, before);
  CheckBalanced(after, 10, {"w1", "w3"});
  int w2_had = Loads(before)["w2"];
  CHECK(Moves(before, after) == w2_had);
  for (const auto& [p, owner] : after) {
    if (before.at(p).worker != "w2") CHECK(owner == before.at(p));
    if (before.at(p).worker == "w2") CHECK(owner.epoch.value() == before.at(p).epoch.value() + 1);
  }
}

TEST_CASE("with no live worker partitions are unassigned and keep their epochs", "[coordinator][assignment]") {
  const auto before = Assign(3, {"w1"}, {});
  const auto none = Assign(3, {}, before);
  for (const auto& [p, owner] : none) {
    CHECK(owner.worker.empty());
    CHECK(owner.epoch == E(1));
  }
  const auto back = Assign(3, {"w9"}, none);
  for (const auto& [p, owner] : back) CHECK(owner.epoch == E(2));  // higher than any earlier owner's
}

TEST_CASE("random membership changes stay balanced, sticky and fenced", "[coordinator][assignment]") {
  std::mt19937_64 rng(5);
  const int32_t partitions = 16;
  std::vector<std::string> pool = {"a", "b", "c", "d", "e", "f"};
  std::vector<std::string> live = {"a", "b"};
  Assignment a = Assign(partitions, live, {});
  for (int step = 0; step < 300; ++step) {
    std::vector<std::string> next_live = live;
    if (next_live.size() > 1 && rng() % 2 == 0) {
      next_live.erase(next_live.begin() + static_cast<long>(rng() % next_live.size()));
    } else {
      for (const auto& w : pool) {
        if (std::find(next_live.begin(), next_live.end(), w) == next_live.end()) {
          next_live.push_back(w);
          break;
        }
      }
    }
    std::sort(next_live.begin(), next_live.end());
    const Assignment b = Assign(partitions, next_live, a);
    CheckBalanced(b, partitions, next_live);
    // Moves are bounded by what the change forces: the leavers' partitions, or
    // the joiner's share.
    int forced = 0;
    for (const auto& [p, owner] : a) {
      if (std::find(next_live.begin(), next_live.end(), owner.worker) == next_live.end()) ++forced;
    }
    const int share = (partitions + static_cast<int>(next_live.size()) - 1) / static_cast<int>(next_live.size());
    CHECK(Moves(a, b) <= std::max(forced, share));
    for (const auto& [p, owner] : b) {
      CHECK(owner.epoch.value() == a.at(p).epoch.value() + (owner.worker == a.at(p).worker ? 0 : 1));
    }
    CHECK(Assign(partitions, next_live, a) == b);  // deterministic
    a = b;
    live = next_live;
  }
}

TEST_CASE("MovesBetween lists each partition given a new owner, with the old owner and the new epoch",
          "[coordinator][assignment]") {
  const auto before = Assign(4, {"w1"}, {});
  const auto after = Assign(4, {"w1", "w2"}, before);
  using weir::coordinator::Move;
  CHECK(MovesBetween({}, before) ==
        std::vector<Move>{
            {P(0), "", "w1", E(1)}, {P(1), "", "w1", E(1)}, {P(2), "", "w1", E(1)}, {P(3), "", "w1", E(1)}});
  CHECK(MovesBetween(before, after) == std::vector<Move>{{P(2), "w1", "w2", E(2)}, {P(3), "w1", "w2", E(2)}});
  // Unassigned partitions (no live worker) are no moves.
  CHECK(MovesBetween(after, Assign(4, {}, after)).empty());
  CHECK(Moves(before, after) == 2);
}
