#include "spec/spec_checks.h"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <system_error>
#include <utility>

#include "common/duration.h"
#include "spec/job_spec.h"
#include "spec/kafka_properties.h"

namespace weir::spec_detail {

// The path of field `key` inside the mapping at `path` ("" is the top level).
std::string Child(const std::string& path, std::string_view key) {
  if (path.empty()) return std::string(key);
  return path + "." + std::string(key);
}

// The path of element `index` of the list at `path`.
std::string Element(const std::string& path, size_t index) { return path + "[" + std::to_string(index) + "]"; }

// `text` in double quotes, with quotes, backslashes and control characters
// escaped, so that a message shows exactly what was given.
std::string Quote(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\x%02x", static_cast<unsigned char>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

// The shortest text that reads back as `value` ("0.95", "1.5", "nan").
std::string FormatNumber(double value) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  if (ec != std::errc()) return std::to_string(value);
  return std::string(buf, end);
}

// Parses the whole of `text` as a finite decimal number ("5", "-0.5", "+1e3",
// ".5"); nullopt for anything else, including "inf", "nan" and hex.
std::optional<double> ParseNumber(std::string_view text) {
  if (text.size() >= 2 && text[0] == '+' && text[1] != '-' && text[1] != '+') text.remove_prefix(1);
  if (text.empty()) return std::nullopt;
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value)) return std::nullopt;
  return value;
}

bool IsOutOfRangeNumber(std::string_view text) {
  if (text.size() >= 2 && text[0] == '+' && text[1] != '-' && text[1] != '+') text.remove_prefix(1);
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc::result_out_of_range && end == text.data() + text.size();
}

// The names of `kind`'s values as "expected one of: a, b, c".
std::string ExpectedNames(const EnumKind& kind) {
  std::string out = "expected one of: ";
  for (size_t i = 0; i < kind.entries.size(); ++i) {
    if (i > 0) out += ", ";
    out += kind.entries[i].name;
  }
  return out;
}

// The message for a value `kind` does not have; `shown` is the value as the
// message should show it (quoted text, or the number that came over the wire).
std::string UnknownEnum(const EnumKind& kind, const std::string& shown) {
  return "unknown " + std::string(kind.noun) + " " + shown + " (" + ExpectedNames(kind) + ")";
}

// The value spelled `name`, or nullopt when `kind` has no such spelling.
std::optional<int> FindEnum(const EnumKind& kind, std::string_view name) {
  for (const EnumEntry& entry : kind.entries) {
    if (entry.name == name) return entry.value;
  }
  return std::nullopt;
}

// The spelling of `value`, or "" when `kind` has none (UNSPECIFIED or unknown).
std::string_view EnumName(const EnumKind& kind, int value) {
  for (const EnumEntry& entry : kind.entries) {
    if (entry.value == value) return entry.name;
  }
  return {};
}

// Reports an enum that came over the wire with a number the schema does not
// know. UNSPECIFIED (0) is accepted: it means the field's default.
void CheckEnumOrDefault(const EnumKind& kind, int value, const std::string& path, Problems& problems) {
  if (value != 0 && EnumName(kind, value).empty()) problems.Add(path, UnknownEnum(kind, std::to_string(value)));
}

// True for the characters job, view and feature names may use.
bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

bool AllNameChars(std::string_view text) {
  for (char c : text) {
    if (!IsNameChar(c)) return false;
  }
  return true;
}

// True when `text` is "host:port": a host name or IPv4 address (letters,
// digits, '.', '-', '_'), or an IPv6 address in brackets, and a port in 1..65535.
bool IsHostPort(std::string_view text) {
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return false;
  std::string_view host = text.substr(0, colon);
  std::string_view port = text.substr(colon + 1);
  if (port.empty() || port.size() > 5) return false;
  int port_number = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return false;
    port_number = port_number * 10 + (c - '0');
  }
  if (port_number < 1 || port_number > 65535) return false;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    std::string_view address = host.substr(1, host.size() - 2);
    if (address.empty()) return false;
    for (char c : address) {
      bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
      if (!hex && c != ':' && c != '.') return false;
    }
    return true;
  }
  if (host.empty()) return false;
  for (char c : host) {
    if (!IsNameChar(c)) return false;
  }
  return true;
}

// True when `text` is one or more host:port entries separated by commas
// (spaces around an entry are allowed, as Kafka clients allow them).
bool IsHostPortList(std::string_view text) {
  while (true) {
    size_t comma = text.find(',');
    std::string_view entry = text.substr(0, comma);
    while (!entry.empty() && entry.front() == ' ') entry.remove_prefix(1);
    while (!entry.empty() && entry.back() == ' ') entry.remove_suffix(1);
    if (!IsHostPort(entry)) return false;
    if (comma == std::string_view::npos) return true;
    text.remove_prefix(comma + 1);
  }
}

// ---------------------------------------------------------------------------
// Checks on the proto. Shared by ValidateJobSpec and ParseJobSpecYaml (which
// runs each one on a section right after parsing it, so problems come out in
// document order). Paths are the YAML paths a user would edit.

// Checks a job, view or feature name: 1..128 letters, digits, '.', '_', '-'.
void CheckName(const std::string& value, const std::string& path, Problems& problems) {
  if (value.empty()) {
    problems.Add(path, "is required");
  } else if (value.size() > kMaxNameLength) {
    problems.Add(path, "is " + std::to_string(value.size()) + " characters long (at most " +
                           std::to_string(kMaxNameLength) + ")");
  } else if (!AllNameChars(value)) {
    problems.Add(path, Quote(value) + " may use only letters, digits, '.', '_' and '-'");
  }
}

// Checks a Kafka topic name as Kafka does; an empty name is an error only
// when the topic is `required`.
void CheckTopic(const std::string& value, const std::string& path, bool required, Problems& problems) {
  if (value.empty()) {
    if (required) problems.Add(path, "is required");
    return;
  }
  if (value.size() > kMaxTopicLength || value == "." || value == ".." || !AllNameChars(value)) {
    problems.Add(path, Quote(value) + " is not a valid Kafka topic name (use up to " + std::to_string(kMaxTopicLength) +
                           " letters, digits, '.', '_' and '-')");
  }
}

// Reports a duration (ms) that is negative; 0 is allowed (it means "none" or "off").
void CheckNonNegativeDuration(int64_t ms, const std::string& path, Problems& problems) {
  if (ms < 0) problems.Add(path, "must not be negative (got " + FormatDuration(ms) + ")");
}

// Reports a duration (ms) that is not greater than 0.
void CheckPositiveDuration(int64_t ms, const std::string& path, Problems& problems) {
  if (ms <= 0) problems.Add(path, "must be greater than 0");
}

void CheckAtMostLongestDuration(int64_t ms, const std::string& path, Problems& problems) {
  if (ms > kLongestDurationMs) {
    problems.Add(path,
                 FormatDuration(ms) + " is longer than the longest supported, " + FormatDuration(kLongestDurationMs));
  }
}

// A window length: positive and at most the longest supported.
void CheckWindowLength(int64_t ms, const std::string& path, Problems& problems) {
  CheckPositiveDuration(ms, path, problems);
  CheckAtMostLongestDuration(ms, path, problems);
}

// Checks the source: brokers and topic are required; enums may be UNSPECIFIED.
void CheckSource(const v1::Source& source, Problems& problems) {
  const v1::KafkaSource& kafka = source.kafka();
  if (kafka.brokers().empty()) {
    problems.Add("source.kafka.brokers", "is required");
  } else if (!IsHostPortList(kafka.brokers())) {
    problems.Add("source.kafka.brokers", Quote(kafka.brokers()) +
                                             " is not host:port[,host:port] (e.g. \"127.0.0.1:9092\" or "
                                             "\"kafka-1:9092,kafka-2:9092\")");
  }
  CheckTopic(kafka.topic(), "source.kafka.topic", /*required=*/true, problems);
  CheckEnumOrDefault(kStartKind, kafka.start(), "source.kafka.start", problems);
  CheckTopic(kafka.dead_letter_topic(), "source.kafka.dead_letter_topic", /*required=*/false, problems);
  if (!kafka.dead_letter_topic().empty() && kafka.dead_letter_topic() == kafka.topic()) {
    problems.Add("source.kafka.dead_letter_topic",
                 "must differ from the source topic (bad records would be read back as input)");
  }
  for (const auto& [key, value] : kafka.properties()) {
    const std::string path = "source.kafka.properties." + key;
    if (key.empty() || key.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789._") != std::string::npos) {
      problems.Add("source.kafka.properties", Quote(key) + " is not a librdkafka setting name");
    } else if (auto why = spec::WeirControlledKafkaKey(key)) {
      problems.Add(path, "is set by Weir and cannot be given: " + *why);
    } else if (spec::IsSecretKafkaKey(key) && !spec::IsSecretReference(value)) {
      problems.Add(path, "is a secret: give a reference, ${env:NAME} or ${file:/absolute/path}, never the value");
    } else if (value.size() > 4096) {
      problems.Add(path, "is longer than 4096 characters");
    }
  }
  CheckEnumOrDefault(kRecordFormatKind, source.format(), "source.format", problems);
  CheckEnumOrDefault(kOffsetGapKind, source.on_offset_gap(), "source.on_offset_gap", problems);
}

// Checks event_time: the field is required, and a unit makes no sense for
// RFC 3339 strings (so it must be left UNSPECIFIED with that format).
void CheckEventTime(const v1::EventTimeSpec& event_time, Problems& problems) {
  if (event_time.field().empty()) problems.Add("event_time.field", "is required");
  CheckEnumOrDefault(kTimeUnitKind, event_time.unit(), "event_time.unit", problems);
  CheckEnumOrDefault(kTimeFormatKind, event_time.format(), "event_time.format", problems);
  if (event_time.format() == v1::TIME_FORMAT_RFC3339 && event_time.unit() != v1::TIME_UNIT_UNSPECIFIED) {
    problems.Add("event_time.unit", "does not apply with format rfc3339");
  }
}

// Checks that a window has exactly one kind and sensible sizes: every length
// is > 0, and a sliding window's slide is at most its size and divides it.
void CheckWindow(const v1::WindowSpec& window, const std::string& path, Problems& problems) {
  switch (window.kind_case()) {
    case v1::WindowSpec::kTumbling:
      CheckWindowLength(window.tumbling().size_ms(), Child(path, "tumbling"), problems);
      break;
    case v1::WindowSpec::kSliding: {
      const std::string sliding = Child(path, "sliding");
      const int64_t size = window.sliding().size_ms();
      const int64_t slide = window.sliding().slide_ms();
      CheckWindowLength(size, Child(sliding, "size"), problems);
      CheckPositiveDuration(slide, Child(sliding, "slide"), problems);
      if (size > 0 && slide > 0) {
        if (slide > size) {
          problems.Add(Child(sliding, "slide"), FormatDuration(slide) + " is longer than size " + FormatDuration(size));
        } else if (size % slide != 0) {
          problems.Add(Child(sliding, "slide"),
                       FormatDuration(slide) + " does not divide size " + FormatDuration(size));
        } else if (size / slide > kMaxWindowsPerEvent) {
          // Each event belongs to size/slide windows, and each slide fires that many per key.
          problems.Add(Child(sliding, "slide"), FormatDuration(slide) + " makes " + std::to_string(size / slide) +
                                                    " windows per event (size / slide); at most " +
                                                    std::to_string(kMaxWindowsPerEvent) +
                                                    " are supported: use a longer slide");
        }
      }
      break;
    }
    case v1::WindowSpec::kSession:
      CheckWindowLength(window.session().gap_ms(), Child(Child(path, "session"), "gap"), problems);
      break;
    case v1::WindowSpec::KIND_NOT_SET: problems.Add(path, "must have exactly one of tumbling, sliding, session"); break;
  }
}

// Checks one filter constant: it must hold a value, and a number must be finite.
void CheckScalar(const v1::Scalar& scalar, const std::string& path, Problems& problems) {
  if (scalar.kind_case() == v1::Scalar::KIND_NOT_SET) {
    problems.Add(path, "must be a scalar");
  } else if (scalar.kind_case() == v1::Scalar::kNumber && !std::isfinite(scalar.number())) {
    problems.Add(path, FormatNumber(scalar.number()) + " is not a finite number");
  }
}

// Checks a `where` filter: field and op are required; op `in` takes a
// non-empty list (Filter.values), every other op one scalar (Filter.value).
// Both are reported at `value`, the key the user writes for either.
void CheckFilter(const v1::Filter& filter, const std::string& path, Problems& problems) {
  if (filter.field().empty()) problems.Add(Child(path, "field"), "is required");
  const std::string op = Child(path, "op");
  const std::string value = Child(path, "value");
  if (filter.op() == v1::FILTER_OP_UNSPECIFIED) {
    problems.Add(op, "is required");
    return;
  }
  if (EnumName(kFilterOpKind, filter.op()).empty()) {
    problems.Add(op, UnknownEnum(kFilterOpKind, std::to_string(filter.op())));
    return;
  }
  if (filter.op() == v1::FILTER_OP_IN) {
    if (filter.has_value()) {
      problems.Add(value, "must be a list for op in");
    } else if (filter.values().empty()) {
      problems.Add(value, "must list at least one value for op in");
    } else {
      for (int i = 0; i < filter.values_size(); ++i) CheckScalar(filter.values(i), Element(value, i), problems);
    }
  } else if (!filter.values().empty()) {
    problems.Add(value, "must be a scalar");
  } else if (!filter.has_value() || filter.value().kind_case() == v1::Scalar::KIND_NOT_SET) {
    problems.Add(value, "is required");
  } else {
    CheckScalar(filter.value(), value, problems);
  }
}

// Checks the name of the feature at `path`. `seen` holds the names of the
// features before it and gains this one's, so a repeated name is reported
// where it repeats.
void CheckFeatureName(const v1::FeatureSpec& feature, const std::string& path, std::set<std::string>& seen,
                      Problems& problems) {
  const std::string name = Child(path, "name");
  CheckName(feature.name(), name, problems);
  if (!feature.name().empty() && !seen.insert(feature.name()).second) {
    problems.Add(name, "duplicate feature name " + Quote(feature.name()));
  }
}

// Checks the aggregate of the feature at `path`, and the `field` and `p`
// that it needs or forbids.
void CheckAggregate(const v1::FeatureSpec& feature, const std::string& path, Problems& problems) {
  const std::string agg = Child(path, "agg");
  const std::string p = Child(path, "p");
  if (feature.agg() == v1::AGGREGATE_UNSPECIFIED) {
    problems.Add(agg, "is required");
  } else if (EnumName(kAggregateKind, feature.agg()).empty()) {
    problems.Add(agg, UnknownEnum(kAggregateKind, std::to_string(feature.agg())));
  } else {
    // Only a known aggregate says whether `field` and `p` apply.
    if (feature.agg() != v1::AGGREGATE_COUNT && feature.field().empty()) {
      problems.Add(Child(path, "field"), "is required for agg " + std::string(EnumName(kAggregateKind, feature.agg())));
    }
    if (feature.agg() == v1::AGGREGATE_PERCENTILE) {
      if (!(feature.p() >= 0 && feature.p() <= 1)) problems.Add(p, FormatNumber(feature.p()) + " is not in [0, 1]");
    } else if (feature.p() != 0 || std::isnan(feature.p())) {
      problems.Add(p, "only applies to agg percentile");
    }
  }
}

// Checks feature `index` (see CheckFeatureName for `seen`).
void CheckFeature(const v1::FeatureSpec& feature, size_t index, std::set<std::string>& seen, Problems& problems) {
  const std::string path = Element("features", index);
  CheckFeatureName(feature, path, seen, problems);
  CheckAggregate(feature, path, problems);
  CheckWindow(feature.window(), Child(path, "window"), problems);
  for (int i = 0; i < feature.where_size(); ++i) {
    CheckFilter(feature.where(i), Element(Child(path, "where"), i), problems);
  }
}

// Checks the sink: a required host:port.
void CheckSink(const v1::SinkSpec& sink, Problems& problems) {
  if (sink.feature_store().empty()) {
    problems.Add("sink.feature_store", "is required");
  } else if (!IsHostPort(sink.feature_store())) {
    problems.Add("sink.feature_store", Quote(sink.feature_store()) + " is not host:port");
  }
}

// Checks checkpointing: interval > 0 and a file:/// storage URL.
void CheckCheckpoint(const v1::CheckpointSpec& checkpoint, Problems& problems) {
  CheckPositiveDuration(checkpoint.interval_ms(), "checkpoint.interval", problems);
  if (checkpoint.storage().empty()) {
    problems.Add("checkpoint.storage", "is required");
  } else if (!checkpoint.storage().starts_with(kFileStoragePrefix)) {
    problems.Add("checkpoint.storage", Quote(checkpoint.storage()) + " is not supported (use file:///path)");
  }
}

void CheckRekey(const v1::JobSpec& spec, Problems& problems) {
  const std::string& by = spec.source().partitioned_by();
  if (!by.empty() && by != kPartitionedByKafkaKey && !AllNameChars(by)) {
    problems.Add("source.partitioned_by",
                 Quote(by) + " is not a top-level field name (or kafka_key, for the message key)");
  }
  if (by == spec.event_time().field() && !by.empty()) {
    problems.Add("source.partitioned_by", Quote(by) +
                                              " is the event-time field: a topic is partitioned by an entity field "
                                              "(or kafka_key), never by time");
  }
  if (!spec.has_repartition()) return;
  if (!IsRekeyed(spec)) {
    problems.Add("repartition",
                 "applies only to a re-keyed job: set source.partitioned_by to the field the topic is "
                 "partitioned by (it differs from key), or remove repartition");
  }
  if (spec.repartition().marker_interval_ms() < 0 || spec.repartition().marker_interval_ms() > 60'000) {
    problems.Add("repartition.marker_interval", "must be between 1ms and 60s (default 1s)");
  }
  if (spec.repartition().partitions() < 0 || spec.repartition().partitions() > kMaxRepartitionPartitions) {
    problems.Add("repartition.partitions", std::to_string(spec.repartition().partitions()) + " is not in [0, " +
                                               std::to_string(kMaxRepartitionPartitions) +
                                               "] (0: the source topic's partition count)");
  }
}

void CheckTimeLimits(const v1::JobSpec& spec, Problems& problems) {
  CheckAtMostLongestDuration(spec.watermark().max_out_of_orderness_ms(), "watermark.max_out_of_orderness", problems);
  CheckAtMostLongestDuration(spec.watermark().idle_timeout_ms(), "watermark.idle_timeout", problems);
  CheckAtMostLongestDuration(spec.allowed_lateness_ms(), "allowed_lateness", problems);
  CheckAtMostLongestDuration(spec.checkpoint().interval_ms(), "checkpoint.interval", problems);
}

}  // namespace weir::spec_detail

namespace weir {

Status ValidateJobSpec(const v1::JobSpec& spec) {
  using namespace spec_detail;  // NOLINT(google-build-using-namespace): spec/'s own checks
  Problems problems;
  CheckName(spec.name(), "name", problems);
  CheckSource(spec.source(), problems);
  if (spec.key().empty()) problems.Add("key", "is required");
  CheckEventTime(spec.event_time(), problems);
  CheckNonNegativeDuration(spec.watermark().max_out_of_orderness_ms(), "watermark.max_out_of_orderness", problems);
  CheckNonNegativeDuration(spec.watermark().idle_timeout_ms(), "watermark.idle_timeout", problems);
  CheckNonNegativeDuration(spec.allowed_lateness_ms(), "allowed_lateness", problems);
  CheckTimeLimits(spec, problems);
  CheckName(spec.view(), "view", problems);
  CheckNonNegativeDuration(spec.retention_ms(), "retention", problems);
  if (spec.features().empty()) problems.Add("features", "must list at least one feature");
  std::set<std::string> seen;
  for (int i = 0; i < spec.features_size(); ++i) CheckFeature(spec.features(i), i, seen, problems);
  CheckSink(spec.sink(), problems);
  CheckCheckpoint(spec.checkpoint(), problems);
  CheckRekey(spec, problems);
  return problems.ToStatus();
}

}  // namespace weir
