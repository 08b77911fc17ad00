#include "spec/job_spec.h"
#include "spec/job_spec_yaml.h"
#include "tests/unit/spec/spec_yaml_helpers.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

namespace weir {
namespace {

// The example from docs/job-spec.md: every section, every window kind.
constexpr const char* kDesignSpec = R"(
name: user-txn-features
source:
  kafka: { brokers: "127.0.0.1:9092", topic: transactions, start: earliest }
  format: json
key: user_id
event_time: { field: ts, unit: ms }
watermark: { max_out_of_orderness: 5s, idle_timeout: 0s }
allowed_lateness: 1m
view: user_txn
features:
  - { name: txn_count_1h, agg: count, window: { sliding: { size: 1h, slide: 5m } } }
  - { name: amount_sum_10m, agg: sum, field: amount, window: { tumbling: 10m } }
  - { name: amount_p95_1h, agg: percentile, p: 0.95, field: amount, window: { tumbling: 1h } }
  - { name: session_clicks, agg: count, window: { session: { gap: 30m } },
      where: [ { field: type, op: eq, value: click } ] }
sink: { feature_store: "127.0.0.1:7070" }
checkpoint: { interval: 10s, storage: "file:///var/lib/weir/checkpoints" }
)";

// The error message of validating `spec`, which must fail with InvalidArgument.
std::string ValidateError(const v1::JobSpec& spec) {
  Status status = ValidateJobSpec(spec);
  REQUIRE_FALSE(status.ok());
  CHECK(status.code() == StatusCode::kInvalidArgument);
  return status.message();
}

// A valid spec built as a client might over the wire, with every enum left
// UNSPECIFIED (their defaults).
v1::JobSpec WireSpec() {
  Result<v1::JobSpec> parsed = ParseJobSpecYaml(Minimal());
  REQUIRE(parsed.ok());
  v1::JobSpec spec = *parsed;
  spec.mutable_source()->mutable_kafka()->set_start(v1::START_OFFSET_UNSPECIFIED);
  spec.mutable_source()->set_format(v1::RECORD_FORMAT_UNSPECIFIED);
  spec.mutable_event_time()->set_unit(v1::TIME_UNIT_UNSPECIFIED);
  spec.mutable_event_time()->set_format(v1::TIME_FORMAT_UNSPECIFIED);
  return spec;
}

TEST_CASE("ParseJobSpecYaml reads every field of the design example", "[spec]") {
  Result<v1::JobSpec> parsed = ParseJobSpecYaml(kDesignSpec);
  REQUIRE(parsed.ok());
  const v1::JobSpec& spec = *parsed;
  CHECK(spec.name() == "user-txn-features");
  CHECK(spec.source().kafka().brokers() == "127.0.0.1:9092");
  CHECK(spec.source().kafka().topic() == "transactions");
  CHECK(spec.source().kafka().start() == v1::START_OFFSET_EARLIEST);
  CHECK(spec.source().format() == v1::RECORD_FORMAT_JSON);
  CHECK(spec.key() == "user_id");
  CHECK(spec.event_time().field() == "ts");
  CHECK(spec.event_time().unit() == v1::TIME_UNIT_MILLISECONDS);
  CHECK(spec.event_time().format() == v1::TIME_FORMAT_EPOCH);
  CHECK(spec.watermark().max_out_of_orderness_ms() == 5000);
  CHECK(spec.watermark().idle_timeout_ms() == 0);
  CHECK(spec.allowed_lateness_ms() == 60'000);
  CHECK(spec.view() == "user_txn");
  REQUIRE(spec.features_size() == 4);

  const v1::FeatureSpec& count = spec.features(0);
  CHECK(count.name() == "txn_count_1h");
  CHECK(count.agg() == v1::AGGREGATE_COUNT);
  CHECK(count.field().empty());
  REQUIRE(count.window().has_sliding());
  CHECK(count.window().sliding().size_ms() == 3'600'000);
  CHECK(count.window().sliding().slide_ms() == 300'000);

  const v1::FeatureSpec& sum = spec.features(1);
  CHECK(sum.agg() == v1::AGGREGATE_SUM);
  CHECK(sum.field() == "amount");
  REQUIRE(sum.window().has_tumbling());
  CHECK(sum.window().tumbling().size_ms() == 600'000);

  const v1::FeatureSpec& p95 = spec.features(2);
  CHECK(p95.agg() == v1::AGGREGATE_PERCENTILE);
  CHECK(p95.p() == 0.95);
  CHECK(p95.window().tumbling().size_ms() == 3'600'000);

  const v1::FeatureSpec& clicks = spec.features(3);
  REQUIRE(clicks.window().has_session());
  CHECK(clicks.window().session().gap_ms() == 1'800'000);
  REQUIRE(clicks.where_size() == 1);
  CHECK(clicks.where(0).field() == "type");
  CHECK(clicks.where(0).op() == v1::FILTER_OP_EQ);
  CHECK(clicks.where(0).value().text() == "click");
  CHECK(clicks.where(0).values().empty());

  CHECK(spec.sink().feature_store() == "127.0.0.1:7070");
  CHECK(spec.checkpoint().interval_ms() == 10'000);
  CHECK(spec.checkpoint().storage() == "file:///var/lib/weir/checkpoints");
  CHECK(ValidateJobSpec(spec).ok());
}

TEST_CASE("ParseJobSpecYaml fills every default explicitly", "[spec]") {
  Result<v1::JobSpec> parsed = ParseJobSpecYaml(Minimal());
  REQUIRE(parsed.ok());
  CHECK(parsed->source().kafka().start() == v1::START_OFFSET_EARLIEST);
  CHECK(parsed->source().kafka().dead_letter_topic().empty());  // means "<name>.dlq"
  CHECK(parsed->source().format() == v1::RECORD_FORMAT_JSON);
  CHECK(parsed->event_time().unit() == v1::TIME_UNIT_MILLISECONDS);
  CHECK(parsed->event_time().format() == v1::TIME_FORMAT_EPOCH);
  CHECK(parsed->watermark().max_out_of_orderness_ms() == 0);
  CHECK(parsed->watermark().idle_timeout_ms() == 0);
  CHECK(parsed->allowed_lateness_ms() == 0);
  CHECK(parsed->checkpoint().interval_ms() == 10'000);
  CHECK(parsed->checkpoint().storage() == "file:///var/lib/weir/checkpoints");
}

TEST_CASE("ParseJobSpecYaml reads the optional fields that have other values", "[spec]") {
  Result<v1::JobSpec> parsed = ParseJobSpecYaml(std::string(R"(
name: job
source:
  kafka: { brokers: "k1:9092, k2:9093", topic: t, start: latest, dead_letter_topic: bad.records }
key: user_id
event_time: { field: ts, unit: us }
watermark: { idle_timeout: 1h30m }
allowed_lateness: 0
view: v
features:
  - { name: f, agg: count, window: { tumbling: 250ms } }
sink: { feature_store: "[::1]:7070" }
checkpoint: { interval: 1m, storage: "file:///tmp/ckpt" }
)"));
  REQUIRE(parsed.ok());
  CHECK(parsed->source().kafka().start() == v1::START_OFFSET_LATEST);
  CHECK(parsed->source().kafka().dead_letter_topic() == "bad.records");
  CHECK(parsed->event_time().unit() == v1::TIME_UNIT_MICROSECONDS);
  CHECK(parsed->watermark().idle_timeout_ms() == 5'400'000);
  CHECK(parsed->features(0).window().tumbling().size_ms() == 250);
  CHECK(parsed->checkpoint().interval_ms() == 60'000);
  CHECK(parsed->checkpoint().storage() == "file:///tmp/ckpt");
}

TEST_CASE("An rfc3339 event time has no unit, and giving one is an error", "[spec]") {
  std::string yaml = Minimal();
  yaml.replace(yaml.find("{ field: ts }"), 13, "{ field: ts, format: rfc3339 }");
  Result<v1::JobSpec> parsed = ParseJobSpecYaml(yaml);
  REQUIRE(parsed.ok());
  CHECK(parsed->event_time().format() == v1::TIME_FORMAT_RFC3339);
  CHECK(parsed->event_time().unit() == v1::TIME_UNIT_UNSPECIFIED);
  CHECK(ValidateJobSpec(*parsed).ok());

  yaml.replace(yaml.find("format: rfc3339"), 15, "format: rfc3339, unit: ms");
  CHECK(ParseError(yaml) == "event_time.unit: does not apply with format rfc3339");
}

TEST_CASE("Unknown fields are named with the keys their mapping allows, in schema order", "[spec]") {
  CHECK(ParseError(WithFeature("{ name: f, agg: count, windw: { tumbling: 1m }, window: { tumbling: 1m } }")) ==
        "features[0].windw: unknown field (expected one of: name, agg, field, p, window, where)");
  CHECK(ParseError(Minimal("colour: blue\n")) ==
        "colour: unknown field (expected one of: name, source, key, event_time, watermark, allowed_lateness, view, "
        "retention, features, sink, checkpoint, repartition)");
  CHECK(ParseError(Minimal("watermark: { max_out_of_order: 5s }\n")) ==
        "watermark.max_out_of_order: unknown field (expected one of: max_out_of_orderness, idle_timeout)");
  CHECK(ParseError(Minimal("checkpoint: { every: 5s }\n")) ==
        "checkpoint.every: unknown field (expected one of: interval, storage)");
  CHECK(ParseError(WithFeature("{ name: f, agg: count, window: { tumbling: 1m }, where: [ { field: a, op: eq, "
                               "value: 1, values: [2] } ] }")) ==
        "features[0].where[0].values: unknown field (expected one of: field, op, value)");
  CHECK(ParseError(WithFeature("{ name: f, agg: count, window: { sliding: { size: 1h, step: 5m } } }")) ==
        "features[0].window.sliding.step: unknown field (expected one of: size, slide)\n"
        "features[0].window.sliding.slide: is required");
}

TEST_CASE("A missing required field is reported as required", "[spec]") {
  std::string yaml = Minimal();
  yaml.erase(yaml.find("key: user_id\n"), 13);
  CHECK(ParseError(yaml) == "key: is required");

  CHECK(ParseError(R"(
name: job
key: k
event_time: { field: ts }
view: v
)") == "source: is required\nfeatures: is required\nsink: is required");

  CHECK(ParseError(WithFeature("{ name: f, window: { tumbling: 1m } }")) == "features[0].agg: is required");
  CHECK(ParseError(WithFeature("{ agg: count }")) == "features[0].name: is required\nfeatures[0].window: is required");
}

TEST_CASE("A field given twice in one mapping is an error", "[spec]") {
  CHECK(ParseError(Minimal("key: other\n")) == "key: is given more than once (give each field once)");
}

TEST_CASE("A node of the wrong kind names the kind expected", "[spec]") {
  CHECK(ParseError(std::string(kMinimalHead) + "features: { name: f }\n") == "features: must be a list");
  std::string yaml = Minimal();
  yaml.replace(yaml.find("name: job"), 9, "name: [job]");
  CHECK(ParseError(yaml) == "name: must be a string");
  yaml = Minimal();
  yaml.replace(yaml.find("source: { kafka: { brokers: \"k:9092\", topic: t } }"), 50, "source: kafka");
  CHECK(ParseError(yaml) == "source: must be a mapping");
  CHECK(ParseError(WithFeature("count")) == "features[0]: must be a mapping");
  CHECK(ParseError(Minimal("allowed_lateness: [1m]\n")) ==
        "allowed_lateness: must be a duration (use a number with a unit: 250ms, 5s, 10m, 1h, 7d)");
  CHECK(ParseError(std::string(kMinimalHead) + "features: []\n") == "features: must list at least one feature");
}

TEST_CASE("A bad duration is reported with ParseDuration's message", "[spec]") {
  CHECK(ParseError(Minimal("watermark: { max_out_of_orderness: 5x }\n")) ==
        "watermark.max_out_of_orderness: \"5x\" is not a duration (use a number with a unit: 250ms, 5s, 10m, 1h, "
        "7d)");
  CHECK(ParseError(Minimal("checkpoint: { interval: 10 }\n")) ==
        "checkpoint.interval: \"10\" is not a duration (use a number with a unit: 250ms, 5s, 10m, 1h, 7d)");
  // A duration that does not parse is not also reported as "must be greater than 0".
  CHECK(ParseError(WithFeature("{ name: f, agg: count, window: { tumbling: ten } }")) ==
        "features[0].window.tumbling: \"ten\" is not a duration (use a number with a unit: 250ms, 5s, 10m, 1h, 7d)");
  // A bare 0 is a duration.
  Result<v1::JobSpec> parsed = ParseJobSpecYaml(Minimal("allowed_lateness: 0\nwatermark: { idle_timeout: 0 }\n"));
  CHECK(parsed.ok());
}

TEST_CASE("Window lengths are positive and a slide divides its size", "[spec]") {
  CHECK(ParseError(WithFeature("{ name: f, agg: count, window: { tumbling: 0s } }")) ==
        "features[0].window.tumbling: must be greater than 0");
  CHECK(ParseError(WithFeature("{ name: f, agg: count, window: { sliding: { size: 1h, slide: 7m } } }")) ==
        "features[0].window.sliding.slide: 7m does not divide size 1h");
  CHECK(ParseError(WithFeature("{ name: f, agg: count, window: { sliding: { size: 1h, slide: 2h } } }")) ==
        "features[0].window.sliding.slide: 2h is longer than size 1h");
  CHECK(ParseError(WithFeature("{ name: f, agg: count, window: { session: { gap: 0 } } }")) ==
        "features[0].window.session.gap: must be greater than 0");
  CHECK(ParseError(WithFeature("{ name: f, agg: count, window: { tumbling: 1m, session: { gap: 1m } } }")) ==
        "features[0].window: must have exactly one of tumbling, sliding, session");
  CHECK(ParseError(WithFeature("{ name: f, agg: count, window: {} }")) ==
        "features[0].window: must have exactly one of tumbling, sliding, session");
  // slide == size is a tumbling window written as sliding: allowed.
  CHECK(ParseJobSpecYaml(WithFeature("{ name: f, agg: count, window: { sliding: { size: 1h, slide: 1h } } }")).ok());
}

TEST_CASE("The path names the feature by index", "[spec]") {
  std::string yaml = std::string(kMinimalHead) + R"(features:
  - { name: a, agg: count, window: { tumbling: 1m } }
  - { name: b, agg: count, window: { tumbling: 1m } }
  - { name: c, agg: count, window: { sliding: { size: 1h, slide: 7m } } }
)";
  CHECK(ParseError(yaml) == "features[2].window.sliding.slide: 7m does not divide size 1h");
}

TEST_CASE("Aggregates: known names, a field where needed, and p only for percentile", "[spec]") {
  CHECK(ParseError(WithFeature("{ name: f, agg: median, field: x, window: { tumbling: 1m } }")) ==
        "features[0].agg: unknown aggregate \"median\" (expected one of: count, sum, min, max, avg, stddev, last, "
        "count_distinct, percentile)");
  CHECK(ParseError(WithFeature("{ name: f, agg: sum, window: { tumbling: 1m } }")) ==
        "features[0].field: is required for agg sum");
  CHECK(ParseError(WithFeature("{ name: f, agg: percentile, field: x, window: { tumbling: 1m } }")) ==
        "features[0].p: is required for agg percentile");
  CHECK(ParseError(WithFeature("{ name: f, agg: percentile, p: 1.5, field: x, window: { tumbling: 1m } }")) ==
        "features[0].p: 1.5 is not in [0, 1]");
  CHECK(ParseError(WithFeature("{ name: f, agg: max, p: 0.5, field: x, window: { tumbling: 1m } }")) ==
        "features[0].p: only applies to agg percentile");
  // Present, even as 0, is present.
  CHECK(ParseError(WithFeature("{ name: f, agg: max, p: 0, field: x, window: { tumbling: 1m } }")) ==
        "features[0].p: only applies to agg percentile");
  CHECK(ParseError(WithFeature("{ name: f, agg: percentile, p: high, field: x, window: { tumbling: 1m } }")) ==
        "features[0].p: \"high\" is not a number (use a value in [0, 1], e.g. 0.95)");
  // count needs no field but may have one; p may be exactly 0 or 1.
  CHECK(ParseJobSpecYaml(WithFeature("{ name: f, agg: count, field: x, window: { tumbling: 1m } }")).ok());
  CHECK(ParseJobSpecYaml(WithFeature("{ name: f, agg: percentile, p: 1, field: x, window: { tumbling: 1m } }")).ok());
  CHECK(ParseJobSpecYaml(WithFeature("{ name: f, agg: percentile, p: 0, field: x, window: { tumbling: 1m } }")).ok());
}

TEST_CASE("Every aggregate name maps to its enum", "[spec]") {
  const std::vector<std::pair<std::string, v1::Aggregate>> aggs = {
      {"count", v1::AGGREGATE_COUNT}, {"sum", v1::AGGREGATE_SUM},
      {"min", v1::AGGREGATE_MIN},     {"max", v1::AGGREGATE_MAX},
      {"avg", v1::AGGREGATE_AVG},     {"stddev", v1::AGGREGATE_STDDEV},
      {"last", v1::AGGREGATE_LAST},   {"count_distinct", v1::AGGREGATE_COUNT_DISTINCT}};
  for (const auto& [name, agg] : aggs) {
    Result<v1::JobSpec> parsed =
        ParseJobSpecYaml(WithFeature("{ name: f, agg: " + name + ", field: x, window: { tumbling: 1m } }"));
    REQUIRE(parsed.ok());
    CHECK(parsed->features(0).agg() == agg);
  }
}

TEST_CASE("Feature names are unique within a job", "[spec]") {
  std::string yaml = std::string(kMinimalHead) + R"(features:
  - { name: txn_count, agg: count, window: { tumbling: 1m } }
  - { name: other, agg: count, window: { tumbling: 1m } }
  - { name: third, agg: count, window: { tumbling: 1m } }
  - { name: txn_count, agg: count, window: { tumbling: 5m } }
)";
  CHECK(ParseError(yaml) == "features[3].name: duplicate feature name \"txn_count\"");
}

TEST_CASE("Filters: operators, the shape of value, and typed scalars", "[spec]") {
  const std::string head = "{ name: f, agg: count, window: { tumbling: 1m }, where: [ ";
  CHECK(ParseError(WithFeature(head + "{ field: type, op: like, value: x } ] }")) ==
        "features[0].where[0].op: unknown operator \"like\" (expected one of: eq, ne, lt, le, gt, ge, in)");
  CHECK(ParseError(WithFeature(head + "{ field: type, op: in, value: click } ] }")) ==
        "features[0].where[0].value: must be a list for op in");
  CHECK(ParseError(WithFeature(head + "{ field: type, op: eq, value: [a, b] } ] }")) ==
        "features[0].where[0].value: must be a scalar");
  CHECK(ParseError(WithFeature(head + "{ field: type, op: in, value: [a, [b]] } ] }")) ==
        "features[0].where[0].value[1]: must be a scalar");
  CHECK(ParseError(WithFeature(head + "{ field: type, op: in, value: [] } ] }")) ==
        "features[0].where[0].value: must list at least one value for op in");
  CHECK(ParseError(WithFeature(head + "{ field: type, op: eq } ] }")) == "features[0].where[0].value: is required");
  CHECK(ParseError(WithFeature(head + "{ op: eq, value: 1 } ] }")) == "features[0].where[0].field: is required");
  CHECK(ParseError(WithFeature("{ name: f, agg: count, window: { tumbling: 1m }, where: { field: a } }")) ==
        "features[0].where: must be a list");

  Result<v1::JobSpec> parsed = ParseJobSpecYaml(WithFeature(
      head +
      "{ field: a, op: eq, value: \"5\" }, { field: b, op: ge, value: 5 }, { field: c, op: ne, value: true }, "
      "{ field: d, op: lt, value: -1.5e3 }, { field: e, op: eq, value: 'false' }, { field: g, op: eq, value: 5s }, "
      "{ field: h, op: in, value: [click, \"7\", 7, false] } ] }"));
  REQUIRE(parsed.ok());
  const auto& where = parsed->features(0).where();
  REQUIRE(where.size() == 7);
  CHECK(where[0].value().text() == "5");  // quoted: a string
  CHECK(where[1].op() == v1::FILTER_OP_GE);
  CHECK(where[1].value().has_number());
  CHECK(where[1].value().number() == 5);
  CHECK(where[2].value().has_flag());
  CHECK(where[2].value().flag());
  CHECK(where[3].value().number() == -1500);
  CHECK(where[4].value().text() == "false");
  CHECK(where[5].value().text() == "5s");  // not all of it is a number
  CHECK(where[6].op() == v1::FILTER_OP_IN);
  CHECK_FALSE(where[6].has_value());
  REQUIRE(where[6].values_size() == 4);
  CHECK(where[6].values(0).text() == "click");
  CHECK(where[6].values(1).text() == "7");
  CHECK(where[6].values(2).number() == 7);
  CHECK(where[6].values(3).has_flag());
  CHECK_FALSE(where[6].values(3).flag());
}

TEST_CASE("Event time, source and sink enums and addresses", "[spec]") {
  std::string yaml = Minimal();
  const std::string event_time = "{ field: ts }";
  CHECK(ParseError(std::string(yaml).replace(yaml.find(event_time), event_time.size(), "{ field: ts, unit: ns }")) ==
        "event_time.unit: unknown unit \"ns\" (expected one of: ms, s, us)");
  CHECK(ParseError(std::string(yaml).replace(yaml.find(event_time), event_time.size(), "{ field: ts, format: iso }")) ==
        "event_time.format: unknown format \"iso\" (expected one of: epoch, rfc3339)");
  CHECK(ParseError(std::string(yaml).replace(yaml.find(event_time), event_time.size(), "{ unit: s }")) ==
        "event_time.field: is required");

  const std::string source = "source: { kafka: { brokers: \"k:9092\", topic: t } }";
  auto with_source = [&](const std::string& text) {
    return std::string(yaml).replace(yaml.find(source), source.size(), text);
  };
  CHECK(ParseError(with_source("source: { kafka: { brokers: \"k:9092\", topic: t, start: middle } }")) ==
        "source.kafka.start: unknown start \"middle\" (expected one of: earliest, latest)");
  CHECK(ParseError(with_source("source: { kafka: { brokers: \"k:9092\", topic: t }, format: avro }")) ==
        "source.format: unknown format \"avro\" (expected one of: json)");
  CHECK(ParseError(with_source("source: { kafka: { brokers: \"k:9092,kafka\", topic: t } }")) ==
        "source.kafka.brokers: \"k:9092,kafka\" is not host:port[,host:port] (e.g. \"127.0.0.1:9092\" or "
        "\"kafka-1:9092,kafka-2:9092\")");
  CHECK(ParseError(with_source("source: { kafka: { topic: t } }")) == "source.kafka.brokers: is required");
  CHECK(ParseError(with_source("source: { format: json }")) == "source.kafka: is required");
  CHECK(ParseError(with_source("source: { kafka: { brokers: \"k:9092\", topic: \"my topic\" } }")) ==
        "source.kafka.topic: \"my topic\" is not a valid Kafka topic name (use up to 249 letters, digits, '.', '_' "
        "and '-')");
  CHECK(ParseError(with_source("source: { kafka: { brokers: \"k:9092\", topic: t, dead_letter_topic: t } }")) ==
        "source.kafka.dead_letter_topic: must differ from the source topic (bad records would be read back as "
        "input)");

  const std::string sink = "sink: { feature_store: \"fs:7070\" }";
  auto with_sink = [&](const std::string& text) {
    return std::string(yaml).replace(yaml.find(sink), sink.size(), text);
  };
  CHECK(ParseError(with_sink("sink: { feature_store: nope }")) == "sink.feature_store: \"nope\" is not host:port");
  CHECK(ParseError(with_sink("sink: { feature_store: \"fs:99999\" }")) ==
        "sink.feature_store: \"fs:99999\" is not host:port");
  CHECK(ParseError(with_sink("sink: {}")) == "sink.feature_store: is required");
}

TEST_CASE("Checkpoints: a positive interval and file:// storage", "[spec]") {
  CHECK(ParseError(Minimal("checkpoint: { storage: \"s3://x\" }\n")) ==
        "checkpoint.storage: \"s3://x\" is not supported (use file:///path)");
  CHECK(ParseError(Minimal("checkpoint: { storage: \"file://relative/dir\" }\n")) ==
        "checkpoint.storage: \"file://relative/dir\" is not supported (use file:///path)");
  CHECK(ParseError(Minimal("checkpoint: { interval: 0s }\n")) == "checkpoint.interval: must be greater than 0");
}

TEST_CASE("Job and view names use a restricted charset and length", "[spec]") {
  std::string yaml = Minimal();
  CHECK(ParseError(std::string(yaml).replace(yaml.find("name: job"), 9, "name: \"my job!\"")) ==
        "name: \"my job!\" may use only letters, digits, '.', '_' and '-'");
  CHECK(ParseError(std::string(yaml).replace(yaml.find("view: v"), 7, "view: a/b")) ==
        "view: \"a/b\" may use only letters, digits, '.', '_' and '-'");
  CHECK(ParseError(std::string(yaml).replace(yaml.find("name: job"), 9, "name: " + std::string(129, 'a'))) ==
        "name: is 129 characters long (at most 128)");
  CHECK(ParseJobSpecYaml(std::string(yaml).replace(yaml.find("name: job"), 9, "name: " + std::string(128, 'a'))).ok());
  CHECK(ParseError(WithFeature("{ name: \"txn count\", agg: count, window: { tumbling: 1m } }")) ==
        "features[0].name: \"txn count\" may use only letters, digits, '.', '_' and '-'");
}

TEST_CASE("Every problem is reported, one per line, in document order", "[spec]") {
  std::string yaml = R"(
name: "my job!"
source: { kafka: { brokers: "k:9092", topic: t, start: middle } }
event_time: { field: ts, unit: ns }
watermark: { max_out_of_orderness: 5x }
view: v
features:
  - { name: a, agg: median, window: { tumbling: 0s } }
  - { name: a, agg: sum, window: { sliding: { size: 1h, slide: 7m } } }
sink: { feature_store: nope }
checkpoint: { storage: "s3://x" }
)";
  CHECK(ParseError(yaml) ==
        "name: \"my job!\" may use only letters, digits, '.', '_' and '-'\n"
        "source.kafka.start: unknown start \"middle\" (expected one of: earliest, latest)\n"
        "key: is required\n"
        "event_time.unit: unknown unit \"ns\" (expected one of: ms, s, us)\n"
        "watermark.max_out_of_orderness: \"5x\" is not a duration (use a number with a unit: 250ms, 5s, 10m, 1h, "
        "7d)\n"
        "features[0].agg: unknown aggregate \"median\" (expected one of: count, sum, min, max, avg, stddev, last, "
        "count_distinct, percentile)\n"
        "features[0].window.tumbling: must be greater than 0\n"
        "features[1].name: duplicate feature name \"a\"\n"
        "features[1].field: is required for agg sum\n"
        "features[1].window.sliding.slide: 7m does not divide size 1h\n"
        "sink.feature_store: \"nope\" is not host:port\n"
        "checkpoint.storage: \"s3://x\" is not supported (use file:///path)");
}

TEST_CASE("Invalid YAML is one message with a 1-based position", "[spec]") {
  CHECK(ParseError("name: [a, b\n") == "invalid YAML at line 2, column 1: end of sequence flow not found");
  CHECK(ParseError("name: x\nkey: *nope\n") ==
        "invalid YAML at line 2, column 6: the referenced anchor is not defined");
}

TEST_CASE("The document is one mapping, and an empty one lacks every required field", "[spec]") {
  CHECK(ParseError("- a\n- b\n") == "job spec: must be a mapping");
  CHECK(ParseError("just text\n") == "job spec: must be a mapping");
  CHECK(ParseError(Minimal() + "---\n" + Minimal()) == "job spec: must be a single YAML document (found 2)");
  CHECK(ParseJobSpecYaml("---\n" + Minimal() + "---\n").ok());
  CHECK(ParseError("") ==
        "name: is required\nsource: is required\nkey: is required\nevent_time: is required\nview: is required\n"
        "features: is required\nsink: is required");
}

TEST_CASE("LoadJobSpecFile reads a file and names a missing one", "[spec]") {
  Result<v1::JobSpec> missing = LoadJobSpecFile("/nonexistent/weir/job.yaml");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == StatusCode::kNotFound);
  CHECK(missing.status().message() == "cannot read job spec \"/nonexistent/weir/job.yaml\": No such file or directory");

  char path[] = "/tmp/weir_job_spec_test_XXXXXX";
  int fd = ::mkstemp(path);
  REQUIRE(fd >= 0);
  ::close(fd);
  {
    std::ofstream out(path);
    out << kDesignSpec;
  }
  Result<v1::JobSpec> loaded = LoadJobSpecFile(path);
  REQUIRE(loaded.ok());
  CHECK(loaded->features_size() == 4);
  {
    std::ofstream out(path, std::ios::trunc);
    out << Minimal("colour: blue\n");
  }
  Result<v1::JobSpec> bad = LoadJobSpecFile(path);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == StatusCode::kInvalidArgument);
  CHECK(bad.status().message().rfind("colour: unknown field", 0) == 0);  // no prefix before the parse errors
  std::remove(path);
}

TEST_CASE("ValidateJobSpec accepts UNSPECIFIED enums as their defaults", "[spec]") {
  CHECK(ValidateJobSpec(WireSpec()).ok());
  v1::JobSpec spec = WireSpec();
  spec.mutable_event_time()->set_format(v1::TIME_FORMAT_RFC3339);
  CHECK(ValidateJobSpec(spec).ok());
  spec.mutable_event_time()->set_unit(v1::TIME_UNIT_SECONDS);
  CHECK(ValidateError(spec) == "event_time.unit: does not apply with format rfc3339");
}

TEST_CASE("ValidateJobSpec checks a spec from the wire with the YAML paths", "[spec]") {
  v1::JobSpec spec = WireSpec();
  v1::FeatureSpec* feature = spec.mutable_features(0);
  feature->mutable_window()->mutable_sliding()->set_size_ms(3'600'000);
  feature->mutable_window()->mutable_sliding()->set_slide_ms(420'000);
  CHECK(ValidateError(spec) == "features[0].window.sliding.slide: 7m does not divide size 1h");
  feature->mutable_window()->mutable_sliding()->set_slide_ms(7'200'000);
  CHECK(ValidateError(spec) == "features[0].window.sliding.slide: 2h is longer than size 1h");
  feature->mutable_window()->clear_kind();
  CHECK(ValidateError(spec) == "features[0].window: must have exactly one of tumbling, sliding, session");
  feature->mutable_window()->mutable_tumbling()->set_size_ms(-5);
  CHECK(ValidateError(spec) == "features[0].window.tumbling: must be greater than 0");
  feature->mutable_window()->mutable_tumbling()->set_size_ms(60'000);
  CHECK(ValidateJobSpec(spec).ok());

  spec.mutable_watermark()->set_max_out_of_orderness_ms(-5000);
  spec.set_allowed_lateness_ms(-60'000);
  CHECK(ValidateError(spec) ==
        "watermark.max_out_of_orderness: must not be negative (got -5s)\nallowed_lateness: must not be negative (got "
        "-1m)");
}

TEST_CASE("ValidateJobSpec reports enum numbers the schema does not know", "[spec]") {
  v1::JobSpec spec = WireSpec();
  spec.mutable_source()->mutable_kafka()->set_start(static_cast<v1::StartOffset>(7));
  spec.mutable_features(0)->set_agg(static_cast<v1::Aggregate>(42));
  CHECK(ValidateError(spec) ==
        "source.kafka.start: unknown start 7 (expected one of: earliest, latest)\n"
        "features[0].agg: unknown aggregate 42 (expected one of: count, sum, min, max, avg, stddev, last, "
        "count_distinct, percentile)");
  spec = WireSpec();
  spec.mutable_features(0)->set_agg(v1::AGGREGATE_UNSPECIFIED);
  CHECK(ValidateError(spec) == "features[0].agg: is required");
}

TEST_CASE("ValidateJobSpec checks p, fields and filters on the wire", "[spec]") {
  v1::JobSpec spec = WireSpec();
  v1::FeatureSpec* feature = spec.mutable_features(0);
  feature->set_agg(v1::AGGREGATE_PERCENTILE);
  feature->set_field("x");
  feature->set_p(std::nan(""));
  CHECK(ValidateError(spec) == "features[0].p: nan is not in [0, 1]");
  feature->set_p(0.5);
  CHECK(ValidateJobSpec(spec).ok());
  feature->set_agg(v1::AGGREGATE_AVG);
  feature->clear_field();
  CHECK(ValidateError(spec) ==
        "features[0].field: is required for agg avg\nfeatures[0].p: only applies to agg percentile");

  spec = WireSpec();
  v1::Filter* filter = spec.mutable_features(0)->add_where();
  filter->set_field("type");
  CHECK(ValidateError(spec) == "features[0].where[0].op: is required");
  filter->set_op(v1::FILTER_OP_EQ);
  CHECK(ValidateError(spec) == "features[0].where[0].value: is required");
  filter->add_values()->set_text("a");
  CHECK(ValidateError(spec) == "features[0].where[0].value: must be a scalar");
  filter->set_op(v1::FILTER_OP_IN);
  CHECK(ValidateJobSpec(spec).ok());
  filter->add_values()->set_number(std::numeric_limits<double>::infinity());
  filter->add_values();
  CHECK(ValidateError(spec) ==
        "features[0].where[0].value[1]: inf is not a finite number\nfeatures[0].where[0].value[2]: must be a scalar");
  filter->clear_values();
  filter->mutable_value()->set_text("a");
  CHECK(ValidateError(spec) == "features[0].where[0].value: must be a list for op in");
}

TEST_CASE("ValidateJobSpec reports an empty spec's required fields", "[spec]") {
  CHECK(ValidateError(v1::JobSpec()) ==
        "name: is required\n"
        "source.kafka.brokers: is required\n"
        "source.kafka.topic: is required\n"
        "key: is required\n"
        "event_time.field: is required\n"
        "view: is required\n"
        "features: must list at least one feature\n"
        "sink.feature_store: is required\n"
        "checkpoint.interval: must be greater than 0\n"
        "checkpoint.storage: is required");
}

}  // namespace
}  // namespace weir
