#include "decode/record_decoder.h"

#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

namespace weir::decode {
namespace {

using Catch::Matchers::StartsWith;
using engine::DeadLetterReason;
using engine::Event;
using engine::JobPlan;
using engine::TimeEncoding;
using engine::ValueType;

std::shared_ptr<const JobPlan> MakePlan(std::vector<std::string> fields, TimeEncoding encoding = TimeEncoding::kMillis,
                                        std::string key = "user", std::string time = "ts") {
  auto plan = std::make_shared<JobPlan>();
  plan->job = "job";
  plan->view = "view";
  plan->key_field = std::move(key);
  plan->time_field = std::move(time);
  plan->time_encoding = encoding;
  plan->fields = std::move(fields);
  return plan;
}

// Decodes `json`, REQUIREs success, and returns the event.
Event MustDecode(RecordDecoder& decoder, std::string_view json, int64_t offset = 0) {
  Event event;
  DecodeError error;
  const bool ok = decoder.Decode(json, KafkaOffset(offset), &event, &error);
  INFO(json << " -> " << error.detail);
  REQUIRE(ok);
  return event;
}

// Decodes `json`, REQUIREs failure, and returns the error.
DecodeError MustFail(RecordDecoder& decoder, std::string_view json) {
  Event event;
  DecodeError error;
  const bool ok = decoder.Decode(json, KafkaOffset(0), &event, &error);
  INFO(json);
  REQUIRE_FALSE(ok);
  return error;
}

TEST_CASE("RecordDecoder fills key, time, offset and every JSON value type", "[decode]") {
  RecordDecoder decoder(MakePlan({"amount", "n", "neg", "big", "s", "yes", "no", "nil", "obj", "arr", "absent"}));
  const Event e = MustDecode(decoder,
                             R"({"user":"u1","ts":1700000000000,"amount":12.5,"n":3,"neg":-7,)"
                             R"("big":18446744073709551615,"s":"hi \"there\"\n","yes":true,"no":false,"nil":null,)"
                             R"("obj":{"amount":1},"arr":[1,2],"other":"ignored"})",
                             42);
  CHECK(e.key == "u1");
  CHECK(e.time == 1700000000000);
  CHECK(e.offset == KafkaOffset(42));
  REQUIRE(e.fields != nullptr);
  CHECK(e.fields[0].type == ValueType::kNumber);
  CHECK(e.fields[0].number == 12.5);
  CHECK(e.fields[1].type == ValueType::kNumber);
  CHECK(e.fields[1].number == 3.0);
  CHECK(e.fields[2].type == ValueType::kNumber);
  CHECK(e.fields[2].number == -7.0);
  CHECK(e.fields[3].type == ValueType::kNumber);
  CHECK(e.fields[3].number == 18446744073709551615.0);
  CHECK(e.fields[4].type == ValueType::kString);
  CHECK(e.fields[4].text == "hi \"there\"\n");
  CHECK(e.fields[5].type == ValueType::kBool);
  CHECK(e.fields[5].boolean);
  CHECK(e.fields[6].type == ValueType::kBool);
  CHECK_FALSE(e.fields[6].boolean);
  CHECK(e.fields[7].type == ValueType::kNull);
  CHECK(e.fields[8].type == ValueType::kOther);
  CHECK(e.fields[9].type == ValueType::kOther);
  CHECK(e.fields[10].type == ValueType::kMissing);
}

TEST_CASE("RecordDecoder reads top-level fields only", "[decode]") {
  RecordDecoder decoder(MakePlan({"amount"}));
  const Event e = MustDecode(decoder, R"({"user":"u","ts":1,"nested":{"amount":5,"user":"x"}})");
  CHECK(e.key == "u");
  CHECK(e.fields[0].type == ValueType::kMissing);
}

TEST_CASE("RecordDecoder accepts a plan without fields", "[decode]") {
  RecordDecoder decoder(MakePlan({}));
  const Event e = MustDecode(decoder, R"({"ts":5,"user":"u"})");
  CHECK(e.key == "u");
  CHECK(e.time == 5);
}

TEST_CASE("RecordDecoder uses an integer key's decimal text", "[decode]") {
  RecordDecoder decoder(MakePlan({}));
  CHECK(MustDecode(decoder, R"({"user":12345,"ts":1})").key == "12345");
  CHECK(MustDecode(decoder, R"({"user":-17,"ts":1})").key == "-17");
  CHECK(MustDecode(decoder, R"({"user":0,"ts":1})").key == "0");
  CHECK(MustDecode(decoder, R"({"user":-9223372036854775808,"ts":1})").key == "-9223372036854775808");
  CHECK(MustDecode(decoder, R"({"user":18446744073709551615,"ts":1})").key == "18446744073709551615");
  CHECK(MustDecode(decoder, R"({"user":"","ts":1})").key == "");
  CHECK(MustDecode(decoder, R"({"user":"caf\u00e9","ts":1})").key == "caf\xc3\xa9");
}

TEST_CASE("RecordDecoder reads integer times in ms, s and us", "[decode]") {
  SECTION("milliseconds") {
    RecordDecoder decoder(MakePlan({}, TimeEncoding::kMillis));
    CHECK(MustDecode(decoder, R"({"user":"u","ts":1700000000123})").time == 1700000000123);
    CHECK(MustDecode(decoder, R"({"user":"u","ts":-5})").time == -5);
    CHECK(MustDecode(decoder, R"({"user":"u","ts":0})").time == 0);
  }
  SECTION("seconds") {
    RecordDecoder decoder(MakePlan({}, TimeEncoding::kSeconds));
    CHECK(MustDecode(decoder, R"({"user":"u","ts":1700000000})").time == 1700000000000);
    CHECK(MustDecode(decoder, R"({"user":"u","ts":-2})").time == -2000);
    CHECK(MustDecode(decoder, R"({"user":"u","ts":9007199254740})").time == 9007199254740000);  // near 2^53 ms
  }
  SECTION("microseconds, floored") {
    RecordDecoder decoder(MakePlan({}, TimeEncoding::kMicros));
    CHECK(MustDecode(decoder, R"({"user":"u","ts":1700000000123456})").time == 1700000000123);
    CHECK(MustDecode(decoder, R"({"user":"u","ts":1999})").time == 1);
    CHECK(MustDecode(decoder, R"({"user":"u","ts":-1})").time == -1);
    CHECK(MustDecode(decoder, R"({"user":"u","ts":-1000})").time == -1);
    CHECK(MustDecode(decoder, R"({"user":"u","ts":-1001})").time == -2);
  }
}

TEST_CASE("RecordDecoder parses RFC 3339 times", "[decode]") {
  RecordDecoder decoder(MakePlan({}, TimeEncoding::kRfc3339));
  CHECK(MustDecode(decoder, R"({"user":"u","ts":"2024-01-31T12:34:56.789Z"})").time == 1706704496789);
  CHECK(MustDecode(decoder, R"({"user":"u","ts":"2024-01-31T14:34:56.789+02:00"})").time == 1706704496789);
  CHECK(MustDecode(decoder, R"({"user":"u","ts":"1969-12-31T23:59:59.999Z"})").time == -1);
}

TEST_CASE("RecordDecoder fills a slot that is also the key or time field", "[decode]") {
  RecordDecoder decoder(MakePlan({"ts", "user", "v"}));
  const Event e = MustDecode(decoder, R"({"user":"u9","ts":77,"v":1})");
  CHECK(e.key == "u9");
  CHECK(e.time == 77);
  CHECK(e.fields[0].type == ValueType::kNumber);
  CHECK(e.fields[0].number == 77.0);
  CHECK(e.fields[1].type == ValueType::kString);
  CHECK(e.fields[1].text == "u9");
  CHECK(e.fields[2].number == 1.0);
}

TEST_CASE("RecordDecoder keeps the first occurrence of a repeated name", "[decode]") {
  RecordDecoder decoder(MakePlan({"x"}));
  const Event e = MustDecode(decoder, R"({"user":"first","x":1,"ts":10,"user":"second","x":"s","ts":"bad"})");
  CHECK(e.key == "first");
  CHECK(e.time == 10);
  CHECK(e.fields[0].type == ValueType::kNumber);
  CHECK(e.fields[0].number == 1.0);
}

TEST_CASE("RecordDecoder sends records that are not JSON objects to decode", "[decode]") {
  RecordDecoder decoder(MakePlan({}));
  DecodeError e = MustFail(decoder, R"({"a":)");
  CHECK(e.reason == DeadLetterReason::kDecode);
  CHECK_THAT(e.detail, StartsWith("record is not valid JSON ("));

  e = MustFail(decoder, R"({"user":"u","ts":1}x)");
  CHECK(e.reason == DeadLetterReason::kDecode);
  CHECK_THAT(e.detail, StartsWith("record is not valid JSON ("));

  e = MustFail(decoder, "{\"user\":\"\xff\",\"ts\":1}");  // invalid UTF-8
  CHECK(e.reason == DeadLetterReason::kDecode);
  CHECK_THAT(e.detail, StartsWith("record is not valid JSON ("));

  e = MustFail(decoder, R"({"user":"u","ts":1,"n":123456789012345678901234})");  // beyond uint64
  CHECK(e.reason == DeadLetterReason::kDecode);
  CHECK_THAT(e.detail, StartsWith("record is not valid JSON ("));

  e = MustFail(decoder, R"([{"user":"u","ts":1}])");
  CHECK(e.reason == DeadLetterReason::kDecode);
  CHECK(e.detail == "record is an array, expected a JSON object");

  e = MustFail(decoder, R"("hello")");
  CHECK(e.reason == DeadLetterReason::kDecode);
  CHECK(e.detail == "record is a string, expected a JSON object");

  e = MustFail(decoder, "42");
  CHECK(e.reason == DeadLetterReason::kDecode);
  CHECK(e.detail == "record is an integer, expected a JSON object");

  e = MustFail(decoder, "");
  CHECK(e.reason == DeadLetterReason::kDecode);
  CHECK(e.detail == "record is empty, expected a JSON object");

  e = MustFail(decoder, "  \n");
  CHECK(e.reason == DeadLetterReason::kDecode);
  CHECK(e.detail == "record is empty, expected a JSON object");
}

TEST_CASE("RecordDecoder sends records lacking the key or time to missing_field", "[decode]") {
  RecordDecoder decoder(MakePlan({}));
  DecodeError e = MustFail(decoder, R"({"ts":1})");
  CHECK(e.reason == DeadLetterReason::kMissingField);
  CHECK(e.detail == "key field \"user\" is missing");

  e = MustFail(decoder, R"({"user":"u"})");
  CHECK(e.reason == DeadLetterReason::kMissingField);
  CHECK(e.detail == "time field \"ts\" is missing");

  e = MustFail(decoder, "{}");  // the key is checked first
  CHECK(e.reason == DeadLetterReason::kMissingField);
  CHECK(e.detail == "key field \"user\" is missing");

  e = MustFail(decoder, R"({"x":{"user":"u","ts":1}})");
  CHECK(e.reason == DeadLetterReason::kMissingField);
  CHECK(e.detail == "key field \"user\" is missing");
}

TEST_CASE("RecordDecoder sends keys of the wrong type to bad_type", "[decode]") {
  RecordDecoder decoder(MakePlan({}));
  DecodeError e = MustFail(decoder, R"({"user":null,"ts":1})");
  CHECK(e.reason == DeadLetterReason::kBadType);
  CHECK(e.detail == "key field \"user\" is null, expected a string or an integer");

  e = MustFail(decoder, R"({"user":5.0,"ts":1})");
  CHECK(e.reason == DeadLetterReason::kBadType);
  CHECK(e.detail == "key field \"user\" is a floating-point number, expected a string or an integer");

  e = MustFail(decoder, R"({"user":true,"ts":1})");
  CHECK(e.reason == DeadLetterReason::kBadType);
  CHECK(e.detail == "key field \"user\" is a boolean, expected a string or an integer");

  e = MustFail(decoder, R"({"user":{"id":1},"ts":1})");
  CHECK(e.reason == DeadLetterReason::kBadType);
  CHECK(e.detail == "key field \"user\" is an object, expected a string or an integer");

  e = MustFail(decoder, R"({"user":null})");  // a bad key is reported before a missing time
  CHECK(e.reason == DeadLetterReason::kBadType);
  CHECK(e.detail == "key field \"user\" is null, expected a string or an integer");
}

TEST_CASE("RecordDecoder sends times of the wrong type to bad_type", "[decode]") {
  SECTION("a string time under milliseconds") {
    RecordDecoder decoder(MakePlan({}, TimeEncoding::kMillis));
    const DecodeError e = MustFail(decoder, R"({"user":"u","ts":"1700000000000"})");
    CHECK(e.reason == DeadLetterReason::kBadType);
    CHECK(e.detail == "time field \"ts\" is a string, expected an integer (milliseconds since the Unix epoch)");
  }
  SECTION("a floating-point time") {
    RecordDecoder decoder(MakePlan({}, TimeEncoding::kSeconds));
    const DecodeError e = MustFail(decoder, R"({"user":"u","ts":1700000000.5})");
    CHECK(e.reason == DeadLetterReason::kBadType);
    CHECK(e.detail ==
          "time field \"ts\" is a floating-point number, expected an integer (seconds since the Unix epoch)");
  }
  SECTION("a null time") {
    RecordDecoder decoder(MakePlan({}, TimeEncoding::kMicros));
    const DecodeError e = MustFail(decoder, R"({"user":"u","ts":null})");
    CHECK(e.reason == DeadLetterReason::kBadType);
    CHECK(e.detail == "time field \"ts\" is null, expected an integer (microseconds since the Unix epoch)");
  }
  SECTION("seconds that overflow milliseconds") {
    RecordDecoder decoder(MakePlan({}, TimeEncoding::kSeconds));
    DecodeError e = MustFail(decoder, R"({"user":"u","ts":9223372036854776})");
    CHECK(e.reason == DeadLetterReason::kBadType);
    CHECK(e.detail ==
          "time field \"ts\" is 9223372036854776 seconds, too large for a time in milliseconds "
          "(expected an integer (seconds since the Unix epoch))");
    e = MustFail(decoder, R"({"user":"u","ts":-9223372036854776})");
    CHECK(e.reason == DeadLetterReason::kBadType);
    CHECK_THAT(e.detail, StartsWith("time field \"ts\" is -9223372036854776 seconds, too large"));
  }
  SECTION("a time beyond the supported range of +-2^53 ms") {
    RecordDecoder decoder(MakePlan({}, TimeEncoding::kMillis));
    DecodeError e = MustFail(decoder, R"({"user":"u","ts":9007199254740993})");
    CHECK(e.reason == DeadLetterReason::kBadType);
    CHECK(e.detail ==
          "time field \"ts\" is 9007199254740993 ms, outside the supported range of +-2^53 ms around the Unix epoch");
    e = MustFail(decoder, R"({"user":"u","ts":-9223372036854775808})");
    CHECK(e.reason == DeadLetterReason::kBadType);
  }
  SECTION("an integer beyond int64") {
    RecordDecoder decoder(MakePlan({}, TimeEncoding::kMicros));
    const DecodeError e = MustFail(decoder, R"({"user":"u","ts":9223372036854775808})");
    CHECK(e.reason == DeadLetterReason::kBadType);
    CHECK(e.detail ==
          "time field \"ts\" is 9223372036854775808, too large for a time "
          "(expected an integer (microseconds since the Unix epoch))");
  }
  SECTION("bad RFC 3339 text") {
    RecordDecoder decoder(MakePlan({}, TimeEncoding::kRfc3339));
    DecodeError e = MustFail(decoder, R"({"user":"u","ts":"2024-02-30T00:00:00Z"})");
    CHECK(e.reason == DeadLetterReason::kBadType);
    CHECK(e.detail ==
          "time field \"ts\": \"2024-02-30T00:00:00Z\" is not an RFC 3339 time: the day does not exist in that "
          "month (expected YYYY-MM-DDTHH:MM:SS[.fraction] followed by Z or +HH:MM/-HH:MM, e.g. "
          "2024-01-31T12:34:56.789Z)");
    e = MustFail(decoder, R"({"user":"u","ts":1706704496789})");
    CHECK(e.reason == DeadLetterReason::kBadType);
    CHECK(e.detail ==
          "time field \"ts\" is an integer, expected an RFC 3339 string such as \"2024-01-31T12:34:56.789Z\"");
  }
}

TEST_CASE("RecordDecoder decodes records larger than its initial buffer", "[decode]") {
  RecordDecoder decoder(MakePlan({"blob", "v"}));
  const std::string blob(100'000, 'b');
  const std::string json = R"({"user":"u","blob":")" + blob + R"(","ts":3,"v":2})";
  const Event e = MustDecode(decoder, json);
  CHECK(e.time == 3);
  CHECK(e.fields[0].text == blob);
  CHECK(e.fields[1].number == 2.0);
  // A short record after the long one sees none of its leftovers.
  const Event f = MustDecode(decoder, R"({"user":"w","ts":4})");
  CHECK(f.key == "w");
  CHECK(f.fields[0].type == ValueType::kMissing);
  CHECK(f.fields[1].type == ValueType::kMissing);
}

TEST_CASE("A reused RecordDecoder decodes each record on its own", "[decode]") {
  RecordDecoder decoder(MakePlan({"v", "tag"}));
  for (int i = 0; i < 2000; ++i) {
    std::string json;
    switch (i % 5) {
      case 0:
        json = R"({"user":"s)" + std::to_string(i) + R"(","ts":)" + std::to_string(i) + R"(,"v":)" + std::to_string(i) +
               R"(,"tag":"t)" + std::to_string(i) + R"("})";
        break;
      case 1: json = R"({"ts":)" + std::to_string(i) + R"(,"user":)" + std::to_string(i) + "}"; break;
      case 2: json = R"({"user":"x","ts":)"; break;  // not JSON
      case 3: json = R"({"tag":null,"user":"s)" + std::to_string(i) + R"(","ts":)" + std::to_string(i) + "}"; break;
      case 4: json = R"({"user":"s)" + std::to_string(i) + R"(","v":"str"})"; break;  // no time
    }
    Event event;
    DecodeError error;
    const bool ok = decoder.Decode(json, KafkaOffset(i), &event, &error);
    INFO(i << ": " << json);
    switch (i % 5) {
      case 0:
        REQUIRE(ok);
        CHECK(event.key == "s" + std::to_string(i));
        CHECK(event.time == i);
        CHECK(event.offset == KafkaOffset(i));
        CHECK(event.fields[0].type == ValueType::kNumber);
        CHECK(event.fields[0].number == i);
        CHECK(event.fields[1].type == ValueType::kString);
        CHECK(event.fields[1].text == "t" + std::to_string(i));
        break;
      case 1:
        REQUIRE(ok);
        CHECK(event.key == std::to_string(i));
        CHECK(event.time == i);
        CHECK(event.fields[0].type == ValueType::kMissing);
        CHECK(event.fields[1].type == ValueType::kMissing);
        break;
      case 2:
        REQUIRE_FALSE(ok);
        CHECK(error.reason == DeadLetterReason::kDecode);
        break;
      case 3:
        REQUIRE(ok);
        CHECK(event.key == "s" + std::to_string(i));
        CHECK(event.fields[0].type == ValueType::kMissing);
        CHECK(event.fields[1].type == ValueType::kNull);
        break;
      case 4:
        REQUIRE_FALSE(ok);
        CHECK(error.reason == DeadLetterReason::kMissingField);
        CHECK(error.detail == "time field \"ts\" is missing");
        break;
    }
  }
}

TEST_CASE("RecordDecoder looks up many fields by name", "[decode]") {
  std::vector<std::string> names;
  std::string json = R"({"user":"u","ts":1)";
  for (int i = 0; i < 40; ++i) {
    names.push_back("f" + std::to_string(i));
    json += R"(,"f)" + std::to_string(i) + R"(":)" + std::to_string(i * 10);
    json += R"(,"g)" + std::to_string(i) + R"(":"unused")";
  }
  json += "}";
  RecordDecoder decoder(MakePlan(names));
  const Event e = MustDecode(decoder, json);
  for (int i = 0; i < 40; ++i) {
    INFO(names[i]);
    CHECK(e.fields[i].type == ValueType::kNumber);
    CHECK(e.fields[i].number == i * 10.0);
  }
}

}  // namespace
}  // namespace weir::decode
