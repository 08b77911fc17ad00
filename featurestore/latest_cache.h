// LatestCache: the newest stored row of each (view, key, feature) that online
// reads asked for recently, or the fact that it has none, so that a read at
// "now" (as_of at or past that row's window) is a hash lookup instead of a
// RocksDB seek.
//
// It never answers with a row older than the store's newest: writes update
// entries once their rows are durable (Written), and a read may only fill an
// entry (Fill) when no write and no eviction touched that entry's shard since
// the read looked (Generation), so a fill can never put back a row that a
// concurrent write had already superseded.
//
// Bounded: at most `capacity` entries; a full shard evicts an arbitrary entry.
// Thread-safe: one mutex per shard, held for a lookup or an update only.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace weir::featurestore {

class LatestCache {
 public:
  // The newest row under a feature prefix: its RocksDB key and value, or
  // none (found == false).
  struct Entry {
    bool found = false;
    std::string key;
    std::string value;
  };

  explicit LatestCache(size_t capacity);

  // True, and *entry, when `prefix` is cached.
  bool Lookup(std::string_view prefix, Entry* entry) const;
  // Call before reading `prefix` from RocksDB; pass the result to Fill.
  uint64_t Generation(std::string_view prefix) const;
  // Caches the newest row read for `prefix`, unless a write or an eviction
  // touched its shard since `generation`.
  void Fill(std::string_view prefix, uint64_t generation, Entry entry);
  // After a row is durable: a cached entry it is at least as new as is
  // replaced (the same identity: an upsert); an uncached prefix makes the
  // shard's pending fills void.
  void Written(std::string_view prefix, std::string_view key, std::string_view value);
  // After rows under `prefix` were deleted (retention): its entry goes, and
  // the shard's pending fills are void.
  void Forget(std::string_view prefix);

 private:
  static constexpr size_t kShards = 32;
  // Transparent, so a lookup by string_view allocates nothing.
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  struct Shard {
    mutable std::mutex mu;
    uint64_t generation = 0;                                                // guarded by mu
    std::unordered_map<std::string, Entry, Hash, std::equal_to<>> entries;  // guarded by mu
  };
  Shard& ShardOf(std::string_view prefix) const;

  const size_t per_shard_;
  mutable std::array<Shard, kShards> shards_;
};

}  // namespace weir::featurestore
