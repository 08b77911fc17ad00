// Partition assignment: spreads a job's partitions over the live workers,
// balanced by count and sticky, so that a worker joining or leaving moves as
// few partitions as it can. Every change of a partition's owner raises its
// epoch (docs/checkpoints.md, "Fencing").
//
// Pure function of its inputs: deterministic, no I/O, no clock.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace weir::coordinator {

// Who owns one partition, under which epoch. An empty owner: unassigned.
struct PartitionOwner {
  std::string worker;
  uint64_t epoch = 0;

  bool operator==(const PartitionOwner&) const = default;
};

using Assignment = std::map<int32_t, PartitionOwner>;  // by partition

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

// How many partitions changed owner between two assignments.
int Moves(const Assignment& before, const Assignment& after);

}  // namespace weir::coordinator
