#include <catch2/catch.hpp>

#include "common/key_hash.h"
#include "common/logging.h"

TEST_CASE("murmur2 matches the Kafka Java client's test vectors", "[common][key_hash]") {
  // From Kafka's UtilsTest.testMurmur2.
  CHECK(weir::KafkaMurmur2("21") == -973932308);
  CHECK(weir::KafkaMurmur2("foobar") == -790332482);
  CHECK(weir::KafkaMurmur2("a-little-bit-long-string") == -985981536);
  CHECK(weir::KafkaMurmur2("a-little-bit-longer-string") == -1486304829);
  CHECK(weir::KafkaMurmur2("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8") == -58897971);
  CHECK(weir::KafkaMurmur2("abc") == 479470107);
}

TEST_CASE("a key's partition is stable and within range", "[common][key_hash]") {
  for (int p : {1, 3, 4, 16}) {
    for (const char* key : {"u1", "u2", "", "a-long-user-id-0000001"}) {
      const int32_t part = weir::KafkaPartitionForKey(key, p);
      CHECK(part >= 0);
      CHECK(part < p);
      CHECK(part == weir::KafkaPartitionForKey(key, p));
    }
  }
  CHECK(weir::KeyHash("u1") == weir::KeyHash("u1"));
  CHECK(weir::KeyHash("u1") != weir::KeyHash("u2"));
}

TEST_CASE("logging rejects an unknown level with the accepted ones", "[common][logging]") {
  auto s = weir::ConfigureLogging("loud", "test");
  CHECK(s.message() == "unknown log level \"loud\" (expected one of: trace, debug, info, warn, error, off)");
  CHECK(weir::ConfigureLogging("warn", "test-ok").ok());
}
