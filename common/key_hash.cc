#include "common/key_hash.h"

#include <cstring>

#include <xxhash.h>

namespace weir {

uint64_t KeyHash(std::string_view key) { return XXH3_64bits_withSeed(key.data(), key.size(), 0x7765'6972); }

int32_t KafkaMurmur2(std::string_view data) {
  constexpr uint32_t kSeed = 0x9747b28c;
  constexpr uint32_t kM = 0x5bd1e995;
  constexpr int kR = 24;
  const auto length = static_cast<uint32_t>(data.size());
  uint32_t h = kSeed ^ length;
  const auto* bytes = reinterpret_cast<const uint8_t*>(data.data());
  const uint32_t blocks = length / 4;
  for (uint32_t i = 0; i < blocks; ++i) {
    uint32_t k = 0;
    std::memcpy(&k, bytes + size_t{i} * 4, 4);  // little-endian, as the Java client reads it
    k *= kM;
    k ^= k >> kR;
    k *= kM;
    h *= kM;
    h ^= k;
  }
  const uint8_t* tail = bytes + size_t{blocks} * 4;
  switch (length % 4) {
    case 3: h ^= static_cast<uint32_t>(tail[2]) << 16; [[fallthrough]];
    case 2: h ^= static_cast<uint32_t>(tail[1]) << 8; [[fallthrough]];
    case 1: h ^= tail[0]; h *= kM;
  }
  h ^= h >> 13;
  h *= kM;
  h ^= h >> 15;
  return static_cast<int32_t>(h);
}

int32_t KafkaPartitionForKey(std::string_view key, int32_t partitions) {
  return static_cast<int32_t>(static_cast<uint32_t>(KafkaMurmur2(key)) & 0x7fffffff) % partitions;
}

}  // namespace weir
