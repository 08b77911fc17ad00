#include "featurestore/latest_cache.h"

#include <functional>

namespace weir::featurestore {

LatestCache::LatestCache(size_t capacity) : per_shard_(capacity / kShards + 1) {}

LatestCache::Shard& LatestCache::ShardOf(std::string_view prefix) const {
  return shards_[(Hash()(prefix) >> 7) % kShards];  // not the bits the shard's own table uses
}

bool LatestCache::Lookup(std::string_view prefix, Entry* entry) const {
  Shard& shard = ShardOf(prefix);
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.entries.find(prefix);
  if (it == shard.entries.end()) return false;
  *entry = it->second;
  return true;
}

uint64_t LatestCache::Generation(std::string_view prefix) const {
  Shard& shard = ShardOf(prefix);
  std::lock_guard<std::mutex> lock(shard.mu);
  return shard.generation;
}

void LatestCache::Fill(std::string_view prefix, uint64_t generation, Entry entry) {
  Shard& shard = ShardOf(prefix);
  std::lock_guard<std::mutex> lock(shard.mu);
  if (shard.generation != generation) return;
  if (shard.entries.size() >= per_shard_) {
    shard.entries.erase(shard.entries.begin());
    ++shard.generation;
  }
  shard.entries.emplace(std::string(prefix), std::move(entry));
}

void LatestCache::Written(std::string_view prefix, std::string_view key, std::string_view value) {
  Shard& shard = ShardOf(prefix);
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.entries.find(prefix);
  if (it == shard.entries.end()) {
    ++shard.generation;
    return;
  }
  Entry& e = it->second;
  // Row keys under one prefix sort newest first: a smaller key is newer.
  if (!e.found || key <= std::string_view(e.key)) {
    e.found = true;
    e.key.assign(key);
    e.value.assign(value);
  }
}

void LatestCache::Forget(std::string_view prefix) {
  Shard& shard = ShardOf(prefix);
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.entries.find(prefix);
  if (it != shard.entries.end()) shard.entries.erase(it);
  ++shard.generation;
}

}  // namespace weir::featurestore
