#include <catch2/catch.hpp>

#include <string>

#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include "worker/dead_letter_producer.h"

namespace weir::worker {
namespace {

// Not in a TSan build: librdkafka's own threads (C11 thrd_create, not
// instrumented) crash TSan's getaddrinfo interceptor as they start.
#ifndef __SANITIZE_THREAD__

// No broker is needed: librdkafka queues the message locally, and refuses at
// once one larger than its message.max.bytes.
TEST_CASE("a dead letter larger than a message is sent truncated and counted, not lost", "[worker]") {
  prometheus::Registry registry;
  prometheus::Counter& truncated = prometheus::BuildCounter().Name("truncated").Register(registry).Add({});
  auto producer = DeadLetterProducer::Create("127.0.0.1:1", "test", &truncated);
  REQUIRE(producer.ok());

  DeadLetterRecord small;
  small.reason = engine::DeadLetterReason::kDecode;
  small.partition = 2;
  small.offset = 41;
  small.record = std::string(1000, 'a');
  (*producer)->Produce("clicks.dlq", "clicks", small);
  CHECK((*producer)->truncated() == 0);

  DeadLetterRecord large = small;
  large.offset = 42;
  large.record = std::string(3 << 20, 'b');
  large.detail = std::string(10000, 'd');
  (*producer)->Produce("clicks.dlq", "clicks", large);
  CHECK((*producer)->truncated() == 1);
  CHECK(truncated.Value() == 1);
  CHECK((*producer)->delivery_errors() == 0);  // queued, not refused
}

#endif  // __SANITIZE_THREAD__

}  // namespace
}  // namespace weir::worker
