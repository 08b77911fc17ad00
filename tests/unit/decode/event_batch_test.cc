#include "decode/event_batch.h"

#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

#include "decode/record_decoder.h"

namespace weir::decode {
namespace {

using engine::Event;
using engine::ValueType;

std::shared_ptr<const engine::JobPlan> Plan() {
  auto plan = std::make_shared<engine::JobPlan>();
  plan->job = "job";
  plan->view = "view";
  plan->key_field = "user";
  plan->time_field = "ts";
  plan->fields = {"kind", "amount"};
  return plan;
}

TEST_CASE("a batch keeps every event's key and strings after the decoder moved on", "[decode]") {
  RecordDecoder decoder(Plan());
  EventBatch batch(2);
  const std::string long_kind(40000, 'k');  // bigger than an arena block's share
  for (int i = 0; i < 3000; ++i) {
    const std::string kind = i == 7 ? long_kind : "kind-" + std::to_string(i);
    const std::string json = R"({"user":"user-)" + std::to_string(i) + R"(","ts":)" + std::to_string(i * 10) +
                             R"(,"kind":")" + kind + R"(","amount":)" + std::to_string(i) + "}";
    Event event;
    DecodeError error;
    REQUIRE(decoder.Decode(json, KafkaOffset(100 + i), &event, &error));
    batch.Add(event);
  }
  REQUIRE(batch.size() == 3000);
  for (int i = 0; i < 3000; ++i) {
    const Event& e = batch[static_cast<size_t>(i)];
    REQUIRE(e.key == "user-" + std::to_string(i));
    REQUIRE(e.time == i * 10);
    REQUIRE(e.offset == KafkaOffset(100 + i));
    REQUIRE(e.fields[0].type == ValueType::kString);
    REQUIRE(e.fields[0].text == (i == 7 ? long_kind : "kind-" + std::to_string(i)));
    REQUIRE(e.fields[1].type == ValueType::kNumber);
    REQUIRE(e.fields[1].number == i);
  }
  CHECK(batch.data() == &batch[0]);

  // Reused: the next batch's events are whole too.
  batch.Clear();
  CHECK(batch.empty());
  Event event;
  DecodeError error;
  REQUIRE(decoder.Decode(R"({"user":7,"ts":5})", KafkaOffset(1), &event, &error));
  batch.Add(event);
  REQUIRE(decoder.Decode(R"({"user":"other","ts":6,"kind":"x"})", KafkaOffset(2), &event, &error));
  CHECK(batch[0].key == "7");
  CHECK(batch[0].fields[0].type == ValueType::kMissing);
}

}  // namespace
}  // namespace weir::decode
