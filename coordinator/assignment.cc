#include "coordinator/assignment.h"

#include <algorithm>
#include <set>

namespace weir::coordinator {

Assignment Assign(int32_t partitions, const std::vector<std::string>& live_workers, const Assignment& previous) {
  Assignment next;
  const std::set<std::string> live(live_workers.begin(), live_workers.end());
  auto previous_epoch = [&](int32_t p) {
    auto it = previous.find(PartitionId(p));
    return it == previous.end() ? Epoch(0) : it->second.epoch;
  };
  auto raised = [](Epoch e) { return Epoch(e.value() + 1); };
  if (live.empty()) {
    for (int32_t p = 0; p < partitions; ++p) next[PartitionId(p)] = PartitionOwner{"", previous_epoch(p)};
    return next;
  }

  // What each live worker owns now (ascending partition ids).
  std::map<std::string, std::vector<int32_t>> owned;
  for (const std::string& w : live) owned[w];
  for (int32_t p = 0; p < partitions; ++p) {
    auto it = previous.find(PartitionId(p));
    if (it != previous.end() && live.count(it->second.worker) > 0) owned[it->second.worker].push_back(p);
  }

  // Quotas: `extra` workers get one more. Give them to the workers that own
  // the most already (fewest moves), ties by id.
  const int32_t n_workers = static_cast<int32_t>(live.size());
  const int32_t base = partitions / n_workers;
  int32_t extra = partitions % n_workers;
  std::vector<std::string> by_load(live.begin(), live.end());
  std::stable_sort(by_load.begin(), by_load.end(),
                   [&](const std::string& a, const std::string& b) { return owned[a].size() > owned[b].size(); });
  std::map<std::string, int32_t> quota;
  for (const std::string& w : by_load) quota[w] = base + (extra-- > 0 ? 1 : 0);

  // Keep up to quota (lowest partitions), release the rest.
  std::vector<int32_t> pool;
  for (auto& [worker, parts] : owned) {
    const size_t keep = std::min<size_t>(parts.size(), static_cast<size_t>(quota[worker]));
    for (size_t i = 0; i < parts.size(); ++i) {
      if (i < keep) {
        next[PartitionId(parts[i])] = PartitionOwner{worker, previous_epoch(parts[i])};
      } else {
        pool.push_back(parts[i]);
      }
    }
    parts.resize(keep);
  }
  for (int32_t p = 0; p < partitions; ++p) {
    if (next.count(PartitionId(p)) == 0 && std::find(pool.begin(), pool.end(), p) == pool.end()) pool.push_back(p);
  }
  std::sort(pool.begin(), pool.end());

  // Fill workers below quota, in id order.
  auto pooled = pool.begin();
  for (const std::string& worker : live) {
    for (int32_t have = static_cast<int32_t>(owned[worker].size()); have < quota[worker] && pooled != pool.end();
         ++have, ++pooled) {
      next[PartitionId(*pooled)] = PartitionOwner{worker, raised(previous_epoch(*pooled))};
    }
  }
  return next;
}

std::vector<Move> MovesBetween(const Assignment& before, const Assignment& after) {
  std::vector<Move> moves;
  for (const auto& [p, owner] : after) {
    if (owner.worker.empty()) continue;
    auto it = before.find(p);
    const std::string from = it == before.end() ? "" : it->second.worker;
    if (from != owner.worker) moves.push_back(Move{p, from, owner.worker, owner.epoch});
  }
  return moves;
}

int Moves(const Assignment& before, const Assignment& after) {
  return static_cast<int>(MovesBetween(before, after).size());
}

}  // namespace weir::coordinator
