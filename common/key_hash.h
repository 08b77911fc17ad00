// Hashing of entity keys: one stable 64-bit hash for ordering and tables, and
// Kafka's default partitioner (murmur2), so that Weir's tools put a key in the
// same partition a Java or librdkafka producer with the default partitioner
// would ("murmur2_random" in librdkafka, the default in the Java client).
#pragma once

#include <cstdint>
#include <string_view>

namespace weir {

// A stable 64-bit hash of a key (XXH3 with a fixed seed): the same on every
// machine and in every version of Weir that reads the same snapshot format.
uint64_t KeyHash(std::string_view key);

// Kafka's murmur2 of `data` (the Java client's Utils.murmur2).
int32_t KafkaMurmur2(std::string_view data);

// The partition Kafka's default partitioner picks for a keyed message:
// (murmur2(key) & 0x7fffffff) % partitions. REQUIRES: partitions > 0.
int32_t KafkaPartitionForKey(std::string_view key, int32_t partitions);

}  // namespace weir
