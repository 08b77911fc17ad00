#include "featurestore/key_owners.h"

#include <string>

#include "common/key_hash.h"

namespace weir::featurestore {

KeyOwners::KeyOwners(size_t capacity) : per_shard_(capacity == 0 ? 0 : (capacity + kShards - 1) / kShards) {}

std::optional<int32_t> KeyOwners::Claim(std::string_view job, std::string_view view, std::string_view key,
                                        int32_t partition) {
  if (per_shard_ == 0) return std::nullopt;
  // Lengths first, so ("ab", "c") and ("a", "bc") differ.
  std::string identity;
  identity.reserve(job.size() + view.size() + key.size() + 12);
  for (std::string_view part : {job, view, key}) {
    const auto n = static_cast<uint32_t>(part.size());
    identity.append(reinterpret_cast<const char*>(&n), sizeof(n));
    identity.append(part);
  }
  const uint64_t hash = KeyHash(identity);
  Shard& shard = shards_[hash % kShards];
  weir::MutexLock lock(&shard.mu);
  if (auto it = shard.owners.find(hash); it != shard.owners.end()) {
    if (it->second == partition) return std::nullopt;
    return it->second;
  }
  if (shard.owners.size() >= per_shard_) {
    untracked_.fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;
  }
  shard.owners.emplace(hash, partition);
  return std::nullopt;
}

size_t KeyOwners::tracked() const {
  size_t n = 0;
  for (const Shard& shard : shards_) {
    weir::MutexLock lock(&shard.mu);
    n += shard.owners.size();
  }
  return n;
}

}  // namespace weir::featurestore
