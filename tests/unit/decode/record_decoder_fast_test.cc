// The decoder's fast path (decode/record_decoder_fast.cc) must decide exactly
// as the simdjson path does. Each record is decoded as is and again with an
// unread field whose name holds an escape put in front, which the fast path
// never takes: both must give the same outcome, the same key, time and field
// values (bit for bit), or the same dead-letter reason and detail.
#include <catch2/catch.hpp>

#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "decode/record_decoder.h"

namespace weir::decode {
namespace {

using engine::Event;
using engine::JobPlan;
using engine::TimeEncoding;
using engine::ValueType;

std::shared_ptr<const JobPlan> MakePlan(TimeEncoding encoding) {
  auto plan = std::make_shared<JobPlan>();
  plan->job = "job";
  plan->view = "view";
  plan->key_field = "k";
  plan->time_field = "ts";
  plan->time_encoding = encoding;
  plan->fields = {"x", "s", "ts", "x"};
  return plan;
}

// What one decode gave, as text that compares exactly (numbers by their bits).
std::string Outcome(RecordDecoder& decoder, std::string_view json) {
  Event e;
  DecodeError error;
  if (!decoder.Decode(json, KafkaOffset(3), &e, &error)) {
    return "error " + std::to_string(static_cast<int>(error.reason)) + " " + error.detail;
  }
  std::string out =
      "key=" + std::string(e.key) + " time=" + std::to_string(e.time) + " offset=" + std::to_string(e.offset.value());
  for (size_t i = 0; i < 4; ++i) {
    const engine::FieldValue& f = e.fields[i];
    uint64_t bits = 0;
    std::memcpy(&bits, &f.number, sizeof(bits));
    out += " [" + std::to_string(static_cast<int>(f.type)) + " " + std::to_string(f.boolean) + " " +
           std::to_string(bits) + " " + std::string(f.text) + "]";
  }
  return out;
}

// `json` with an unread, escaped field in front (the slow path's input), or
// "" when it is not an object with a member to put it before.
std::string Slow(const std::string& json) {
  const size_t brace = json.find_first_not_of(" \t\r\n");
  if (brace == std::string::npos || json[brace] != '{') return "";
  const size_t next = json.find_first_not_of(" \t\r\n", brace + 1);
  if (next == std::string::npos || json[next] == '}') return "";
  return json.substr(0, brace + 1) + "\"\\u007a\":0," + json.substr(brace + 1);
}

void Compare(RecordDecoder& fast, RecordDecoder& slow, const std::string& json) {
  const std::string slow_json = Slow(json);
  if (slow_json.empty()) return;
  INFO(json);
  CHECK(Outcome(fast, json) == Outcome(slow, slow_json));
}

}  // namespace

TEST_CASE("the fast path decodes exactly as simdjson does, odd records included", "[decode]") {
  const std::vector<std::string> records = {
      R"({"k":"a","ts":1000,"x":1.25,"s":"hi"})",
      R"(  { "k" : "a" , "ts" : 1000 , "x" : -0.0 }  )",
      "{\t\"k\":\"a\",\r\n\"ts\":1,\"x\":0}\n",
      R"({"k":"a","ts":1,"x":-0})",
      R"({"k":"a","ts":1,"x":1e400})",
      R"({"k":"a","ts":1,"x":1e-400})",
      R"({"k":"a","ts":1,"x":5e-324})",
      R"({"k":"a","ts":1,"x":1.7976931348623157e308})",
      R"({"k":"a","ts":1,"x":0.1000000000000000055511151231257827})",
      R"({"k":"a","ts":1,"x":123456789012345678})",
      R"({"k":"a","ts":1,"x":1234567890123456789})",
      R"({"k":"a","ts":1,"x":12345678901234567890})",
      R"({"k":"a","ts":1,"x":123456789012345678901})",
      R"({"k":"a","ts":1,"x":9007199254740993})",
      R"({"k":"a","ts":1,"x":01})",
      R"({"k":"a","ts":1,"x":1.})",
      R"({"k":"a","ts":1,"x":.5})",
      R"({"k":"a","ts":1,"x":1e})",
      R"({"k":"a","ts":1,"x":1E+2})",
      R"({"k":"a","ts":1,"x":-})",
      R"({"k":"a","ts":1,"x":+1})",
      R"({"k":"a","ts":1,"x":1x})",
      R"({"k":"a","ts":1,"x":true,"s":false})",
      R"({"k":"a","ts":1,"x":null,"s":nul})",
      R"({"k":"a","ts":1,"x":tru})",
      R"({"k":"a","ts":1,"x":[1,2],"s":{"a":1}})",
      R"({"k":"a","ts":1,"s":"caf\u00e9"})",
      "{\"k\":\"a\",\"ts\":1,\"s\":\"caf\xc3\xa9\"}",
      "{\"k\":\"a\",\"ts\":1,\"s\":\"bad \xc3\"}",
      "{\"k\":\"a\",\"ts\":1,\"s\":\"tab\there\"}",
      "{\"k\":\"a\",\"ts\":1,\"s\":\"del\x7f\"}",
      R"({"k":"a","ts":1,"x":1,"x":2,"k":"b","ts":3})",
      R"({"k":12,"ts":1})",
      R"({"k":-12,"ts":1})",
      R"({"k":-0,"ts":1})",
      R"({"k":18446744073709551615,"ts":1})",
      R"({"k":1.5,"ts":1})",
      R"({"k":null,"ts":1})",
      R"({"k":"a","ts":null})",
      R"({"k":"a","ts":1.0})",
      R"({"k":"a","ts":"1"})",
      R"({"k":"a","ts":9007199254740993})",
      R"({"k":"a","ts":-9007199254740992})",
      R"({"k":"a","ts":9223372036854775807})",
      R"({"k":"a","ts":9223372036854775808})",
      R"({"k":"a"})",
      R"({"ts":1})",
      R"({"k":"a","ts":1,})",
      R"({"k":"a","ts":1} x)",
      R"({"k":"a","ts":1}})",
      R"({"k":"a","ts":1)",
      R"({"k":"a" "ts":1})",
      R"({"k":"a","ts":1,"":2})",
      R"({"k":"","ts":1})",
  };
  for (TimeEncoding encoding : {TimeEncoding::kMillis, TimeEncoding::kSeconds, TimeEncoding::kMicros}) {
    const auto plan = MakePlan(encoding);
    RecordDecoder fast(plan);
    RecordDecoder slow(plan);
    for (const std::string& r : records) Compare(fast, slow, r);
  }
}

TEST_CASE("the fast path agrees with simdjson on random and mangled flat records", "[decode]") {
  const auto plan = MakePlan(TimeEncoding::kMillis);
  RecordDecoder fast(plan);
  RecordDecoder slow(plan);
  std::mt19937_64 rng(31);
  const std::vector<std::string> values = {
      "0",     "-1", "1.5", "-2.25e3",           "1e308", "1e309", "true", "false",    "null",     "\"\"",
      "\"v\"", "[]", "{}",  "12345678901234567", "007",   "-0.0",  "3.",   "\"\xff\"", "\"a\\nb\""};
  const std::vector<std::string> names = {"k", "ts", "x", "s", "other", ""};
  for (int i = 0; i < 20000; ++i) {
    std::string json = "{";
    const int members = static_cast<int>(rng() % 6);
    for (int m = 0; m < members; ++m) {
      if (m > 0) json += rng() % 2 ? "," : " , ";
      const std::string& name = names[rng() % names.size()];
      std::string value = values[rng() % values.size()];
      if (name == "ts" && rng() % 2) value = std::to_string(static_cast<int64_t>(rng() % 4'000'000'000'000) - 1'000);
      if (name == "k" && rng() % 2) value = "\"user-" + std::to_string(rng() % 100) + "\"";
      json += "\"" + name + "\"" + (rng() % 4 ? ":" : " : ") + value;
    }
    json += "}";
    if (rng() % 5 == 0 && json.size() > 1) {  // mangle one byte
      json[rng() % json.size()] = "{}[],:\" 0-.eE\\a\x80"[rng() % 17];
    }
    Compare(fast, slow, json);
  }
}

}  // namespace weir::decode
