// Partition assignment: spreads a job's partitions over the live workers,
// balanced by count and sticky, so that a worker joining or leaving moves as
// few partitions as it can. Every change of a partition's owner raises its
// epoch (docs/checkpoints.md, "Fencing").
//
// Pure functions of their inputs: deterministic, no I/O, no clock, no state;
// safe to call from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/types.h"

namespace weir::coordinator {

// Who owns one partition, under which epoch. An empty owner: unassigned.
struct PartitionOwner {
  std::string worker;
  Epoch epoch;

  bool operator==(const PartitionOwner&) const = default;
};

using Assignment = std::map<PartitionId, PartitionOwner>;

// The next assignment of `partitions` (0..partitions-1) to `live_workers`,
// given the `previous` one:
//  - balanced: every live worker owns floor(n/w) or ceil(n/w) partitions;
//  - sticky: a partition stays with its owner while that owner is live and
//    under its quota; workers that must shed partitions shed their highest;
//  - a partition whose owner changes (or that is newly assigned) gets
//    epoch = previous epoch + 1; others keep theirs;
//  - with no live worker every partition is unassigned (epochs kept, so the
//    next owner still gets a higher one).
// Ties are broken by worker id, so the result is deterministic.
Assignment Assign(int32_t partitions, const std::vector<std::string>& live_workers, const Assignment& previous);

// A partition given a (new) owner: `from` is the previous owner, empty for a
// partition that had none.
struct Move {
  PartitionId partition;
  std::string from;
  std::string to;
  Epoch epoch;  // the new owner's

  bool operator==(const Move&) const = default;
};

// The partitions that `after` gives to a worker other than their owner in
// `before`, by partition. A partition that becomes unassigned is no move.
std::vector<Move> MovesBetween(const Assignment& before, const Assignment& after);

// How many partitions changed owner between two assignments: MovesBetween's size.
int Moves(const Assignment& before, const Assignment& after);

}  // namespace weir::coordinator
