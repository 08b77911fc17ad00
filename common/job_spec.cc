#include "common/job_spec.h"

#include <fcntl.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "common/duration.h"

namespace weir {
namespace {

constexpr size_t kMaxNameLength = 128;
constexpr size_t kMaxTopicLength = 249;  // Kafka's own limit
constexpr int64_t kDefaultCheckpointIntervalMs = 10'000;
constexpr std::string_view kDefaultCheckpointStorage = "file:///var/lib/weir/checkpoints";
// Checkpoints live under a local (or mounted) directory, named by an absolute path.
constexpr std::string_view kFileStoragePrefix = "file:///";
constexpr std::string_view kDurationHint = "must be a duration (use a number with a unit: 250ms, 5s, 10m, 1h, 7d)";

// The keys each mapping of the schema allows, in schema order (the order the
// "unknown field" message lists them in).
constexpr std::string_view kJobKeys[] = {"name", "source",   "key",  "event_time", "watermark", "allowed_lateness",
                                         "view", "features", "sink", "checkpoint"};
constexpr std::string_view kSourceKeys[] = {"kafka", "format"};
constexpr std::string_view kKafkaKeys[] = {"brokers", "topic", "start", "dead_letter_topic"};
constexpr std::string_view kEventTimeKeys[] = {"field", "unit", "format"};
constexpr std::string_view kWatermarkKeys[] = {"max_out_of_orderness", "idle_timeout"};
constexpr std::string_view kFeatureKeys[] = {"name", "agg", "field", "p", "window", "where"};
constexpr std::string_view kWindowKeys[] = {"tumbling", "sliding", "session"};
constexpr std::string_view kSlidingKeys[] = {"size", "slide"};
constexpr std::string_view kSessionKeys[] = {"gap"};
constexpr std::string_view kFilterKeys[] = {"field", "op", "value"};
constexpr std::string_view kSinkKeys[] = {"feature_store"};
constexpr std::string_view kCheckpointKeys[] = {"interval", "storage"};

// One spelling of a proto enum in YAML.
struct EnumEntry {
  std::string_view name;
  int value;
};

// A proto enum as users write it: the noun used in messages and its
// spellings, in the order messages list them. UNSPECIFIED has no spelling.
struct EnumKind {
  std::string_view noun;
  std::span<const EnumEntry> entries;
};

constexpr EnumEntry kStartEntries[] = {{"earliest", v1::START_OFFSET_EARLIEST}, {"latest", v1::START_OFFSET_LATEST}};
constexpr EnumEntry kRecordFormatEntries[] = {{"json", v1::RECORD_FORMAT_JSON}};
constexpr EnumEntry kTimeUnitEntries[] = {
    {"ms", v1::TIME_UNIT_MILLISECONDS}, {"s", v1::TIME_UNIT_SECONDS}, {"us", v1::TIME_UNIT_MICROSECONDS}};
constexpr EnumEntry kTimeFormatEntries[] = {{"epoch", v1::TIME_FORMAT_EPOCH}, {"rfc3339", v1::TIME_FORMAT_RFC3339}};
constexpr EnumEntry kAggregateEntries[] = {{"count", v1::AGGREGATE_COUNT},
                                           {"sum", v1::AGGREGATE_SUM},
                                           {"min", v1::AGGREGATE_MIN},
                                           {"max", v1::AGGREGATE_MAX},
                                           {"avg", v1::AGGREGATE_AVG},
                                           {"stddev", v1::AGGREGATE_STDDEV},
                                           {"last", v1::AGGREGATE_LAST},
                                           {"count_distinct", v1::AGGREGATE_COUNT_DISTINCT},
                                           {"percentile", v1::AGGREGATE_PERCENTILE}};
constexpr EnumEntry kFilterOpEntries[] = {{"eq", v1::FILTER_OP_EQ}, {"ne", v1::FILTER_OP_NE}, {"lt", v1::FILTER_OP_LT},
                                          {"le", v1::FILTER_OP_LE}, {"gt", v1::FILTER_OP_GT}, {"ge", v1::FILTER_OP_GE},
                                          {"in", v1::FILTER_OP_IN}};

constexpr EnumKind kStartKind{"start", kStartEntries};
constexpr EnumKind kRecordFormatKind{"format", kRecordFormatEntries};
constexpr EnumKind kTimeUnitKind{"unit", kTimeUnitEntries};
constexpr EnumKind kTimeFormatKind{"format", kTimeFormatEntries};
constexpr EnumKind kAggregateKind{"aggregate", kAggregateEntries};
constexpr EnumKind kFilterOpKind{"operator", kFilterOpEntries};

// Every problem found in one spec, in the order found, each "<path>: <problem>".
// A problem hides any later one at the same path or below it, so a section
// that failed to parse is not reported a second time by the checks that then
// run on what was parsed of it (a bad duration is not also "must be > 0").
class Problems {
 public:
  // Records a problem unless `path` or a path above it already has one.
  void Add(const std::string& path, const std::string& problem) {
    for (const std::string& reported : paths_) {
      if (Covers(reported, path)) return;
    }
    paths_.push_back(path);
    lines_.push_back(path + ": " + problem);
  }

  // OK when nothing was found, else InvalidArgument with one problem per line.
  Status ToStatus() const {
    if (lines_.empty()) return Status::Ok();
    std::string message;
    for (const std::string& line : lines_) {
      if (!message.empty()) message += '\n';
      message += line;
    }
    return InvalidArgument(std::move(message));
  }

 private:
  // True when `path` is `outer` or lies below it ("a.b" and "a[0]" lie below "a").
  static bool Covers(std::string_view outer, std::string_view path) {
    if (!path.starts_with(outer)) return false;
    return path.size() == outer.size() || path[outer.size()] == '.' || path[outer.size()] == '[';
  }

  std::vector<std::string> paths_;
  std::vector<std::string> lines_;
};

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
  CheckEnumOrDefault(kRecordFormatKind, source.format(), "source.format", problems);
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
      CheckPositiveDuration(window.tumbling().size_ms(), Child(path, "tumbling"), problems);
      break;
    case v1::WindowSpec::kSliding: {
      const std::string sliding = Child(path, "sliding");
      const int64_t size = window.sliding().size_ms();
      const int64_t slide = window.sliding().slide_ms();
      CheckPositiveDuration(size, Child(sliding, "size"), problems);
      CheckPositiveDuration(slide, Child(sliding, "slide"), problems);
      if (size > 0 && slide > 0) {
        if (slide > size) {
          problems.Add(Child(sliding, "slide"), FormatDuration(slide) + " is longer than size " + FormatDuration(size));
        } else if (size % slide != 0) {
          problems.Add(Child(sliding, "slide"),
                       FormatDuration(slide) + " does not divide size " + FormatDuration(size));
        }
      }
      break;
    }
    case v1::WindowSpec::kSession:
      CheckPositiveDuration(window.session().gap_ms(), Child(Child(path, "session"), "gap"), problems);
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

// ---------------------------------------------------------------------------
// YAML to proto. Each Parse function copies what it can into the proto and
// reports what it cannot; semantic rules are left to the Check functions.
// A key whose value is null (`key:` or `key: ~`) counts as absent.

// The fields of one YAML mapping. Construction reports unknown keys (listing
// the allowed ones), repeated keys and keys that are not strings; Get() then
// returns the value of an allowed key, or a null node when it is absent.
class Fields {
 public:
  // `map` is a mapping or null (no fields); `path` names it in messages.
  Fields(const YAML::Node& map, const std::string& path, std::span<const std::string_view> allowed,
         Problems& problems) {
    if (!map.IsMap()) return;
    for (auto it = map.begin(); it != map.end(); ++it) {
      if (!it->first.IsScalar()) {
        problems.Add(path.empty() ? "job spec" : path, "has a key that is not a string");
        continue;
      }
      const std::string& key = it->first.Scalar();
      const std::string key_path = Child(path, key);
      bool known = false;
      for (std::string_view name : allowed) known = known || name == key;
      if (!known) {
        std::string expected;
        for (std::string_view name : allowed) {
          if (!expected.empty()) expected += ", ";
          expected += name;
        }
        problems.Add(key_path, "unknown field (expected one of: " + expected + ")");
        continue;
      }
      bool repeated = false;
      for (const auto& [seen_key, value] : entries_) repeated = repeated || seen_key == key;
      if (repeated) {
        problems.Add(key_path, "is given more than once (give each field once)");
        continue;
      }
      entries_.emplace_back(key, it->second);
    }
  }

  // The value of `key`, or a null node when the mapping does not have it.
  YAML::Node Get(std::string_view key) const {
    for (const auto& [name, value] : entries_) {
      if (name == key) return value;
    }
    return YAML::Node();
  }

 private:
  std::vector<std::pair<std::string, YAML::Node>> entries_;
};

// True when `node` is a mapping. An absent node is reported as "is required"
// when `required`; a node of another kind as "must be a mapping".
bool ExpectMapping(const YAML::Node& node, const std::string& path, bool required, Problems& problems) {
  if (node.IsNull()) {
    if (required) problems.Add(path, "is required");
    return false;
  }
  if (!node.IsMap()) {
    problems.Add(path, "must be a mapping");
    return false;
  }
  return true;
}

// The text of a scalar; nullopt when absent, or when not a scalar (reported).
// Plain scalars such as 5 or true are read as their text.
std::optional<std::string> GetString(const YAML::Node& node, const std::string& path, Problems& problems) {
  if (node.IsNull()) return std::nullopt;
  if (!node.IsScalar()) {
    problems.Add(path, "must be a string");
    return std::nullopt;
  }
  return node.Scalar();
}

// A duration in ms; nullopt when absent, or when it does not parse (reported).
// An absent duration is reported as "is required" when `required`.
std::optional<int64_t> GetDuration(const YAML::Node& node, const std::string& path, bool required, Problems& problems) {
  if (node.IsNull()) {
    if (required) problems.Add(path, "is required");
    return std::nullopt;
  }
  if (!node.IsScalar()) {
    problems.Add(path, std::string(kDurationHint));
    return std::nullopt;
  }
  Result<int64_t> ms = ParseDuration(node.Scalar());
  if (!ms.ok()) {
    problems.Add(path, ms.status().message());
    return std::nullopt;
  }
  return *ms;
}

// An enum value by its YAML spelling; nullopt when absent, or when unknown (reported).
std::optional<int> GetEnum(const YAML::Node& node, const std::string& path, const EnumKind& kind, Problems& problems) {
  std::optional<std::string> text = GetString(node, path, problems);
  if (!text) return std::nullopt;
  std::optional<int> value = FindEnum(kind, *text);
  if (!value) problems.Add(path, UnknownEnum(kind, Quote(*text)));
  return value;
}

// A filter constant as written. Quoted (or tagged) scalars are text; a plain
// scalar is a flag if it is true/false (in YAML 1.2's spellings), a number if
// all of it reads as one, and text otherwise.
v1::Scalar ToScalar(const YAML::Node& node) {
  v1::Scalar scalar;
  const std::string& text = node.Scalar();
  if (node.Tag() == "?") {
    if (text == "true" || text == "True" || text == "TRUE") {
      scalar.set_flag(true);
      return scalar;
    }
    if (text == "false" || text == "False" || text == "FALSE") {
      scalar.set_flag(false);
      return scalar;
    }
    if (std::optional<double> number = ParseNumber(text)) {
      scalar.set_number(*number);
      return scalar;
    }
  }
  scalar.set_text(text);
  return scalar;
}

void ParseSource(const YAML::Node& node, Problems& problems, v1::Source* source) {
  if (!ExpectMapping(node, "source", /*required=*/true, problems)) return;
  Fields fields(node, "source", kSourceKeys, problems);
  const YAML::Node kafka_node = fields.Get("kafka");
  v1::KafkaSource* kafka = source->mutable_kafka();
  if (ExpectMapping(kafka_node, "source.kafka", /*required=*/true, problems)) {
    Fields kafka_fields(kafka_node, "source.kafka", kKafkaKeys, problems);
    if (auto brokers = GetString(kafka_fields.Get("brokers"), "source.kafka.brokers", problems)) {
      kafka->set_brokers(*brokers);
    }
    if (auto topic = GetString(kafka_fields.Get("topic"), "source.kafka.topic", problems)) kafka->set_topic(*topic);
    if (auto start = GetEnum(kafka_fields.Get("start"), "source.kafka.start", kStartKind, problems)) {
      kafka->set_start(static_cast<v1::StartOffset>(*start));
    }
    if (auto dlq = GetString(kafka_fields.Get("dead_letter_topic"), "source.kafka.dead_letter_topic", problems)) {
      kafka->set_dead_letter_topic(*dlq);
    }
  }
  if (auto format = GetEnum(fields.Get("format"), "source.format", kRecordFormatKind, problems)) {
    source->set_format(static_cast<v1::RecordFormat>(*format));
  }
}

// Fills event_time. The unit defaults to ms for epoch times; with format
// rfc3339 it stays UNSPECIFIED, and giving one is a problem.
void ParseEventTime(const YAML::Node& node, Problems& problems, v1::EventTimeSpec* event_time) {
  if (!ExpectMapping(node, "event_time", /*required=*/true, problems)) return;
  Fields fields(node, "event_time", kEventTimeKeys, problems);
  if (auto field = GetString(fields.Get("field"), "event_time.field", problems)) event_time->set_field(*field);
  const YAML::Node unit_node = fields.Get("unit");
  std::optional<int> unit = GetEnum(unit_node, "event_time.unit", kTimeUnitKind, problems);
  if (auto format = GetEnum(fields.Get("format"), "event_time.format", kTimeFormatKind, problems)) {
    event_time->set_format(static_cast<v1::TimeFormat>(*format));
  }
  if (event_time->format() == v1::TIME_FORMAT_RFC3339) {
    if (!unit_node.IsNull()) problems.Add("event_time.unit", "does not apply with format rfc3339");
    event_time->set_unit(v1::TIME_UNIT_UNSPECIFIED);
  } else if (unit) {
    event_time->set_unit(static_cast<v1::TimeUnit>(*unit));
  }
}

void ParseWatermark(const YAML::Node& node, Problems& problems, v1::WatermarkSpec* watermark) {
  if (!ExpectMapping(node, "watermark", /*required=*/false, problems)) return;
  Fields fields(node, "watermark", kWatermarkKeys, problems);
  if (auto ms = GetDuration(fields.Get("max_out_of_orderness"), "watermark.max_out_of_orderness", false, problems)) {
    watermark->set_max_out_of_orderness_ms(*ms);
  }
  if (auto ms = GetDuration(fields.Get("idle_timeout"), "watermark.idle_timeout", false, problems)) {
    watermark->set_idle_timeout_ms(*ms);
  }
}

// Fills the one kind of window given. A kind that fails to parse is still
// set (with zero lengths) so that only its own problem is reported.
void ParseWindow(const YAML::Node& node, const std::string& path, Problems& problems, v1::WindowSpec* window) {
  if (!ExpectMapping(node, path, /*required=*/true, problems)) return;
  Fields fields(node, path, kWindowKeys, problems);
  const YAML::Node tumbling = fields.Get("tumbling");
  const YAML::Node sliding = fields.Get("sliding");
  const YAML::Node session = fields.Get("session");
  const int kinds = (tumbling.IsNull() ? 0 : 1) + (sliding.IsNull() ? 0 : 1) + (session.IsNull() ? 0 : 1);
  if (kinds != 1) {
    problems.Add(path, "must have exactly one of tumbling, sliding, session");
    return;
  }
  if (!tumbling.IsNull()) {
    auto size = GetDuration(tumbling, Child(path, "tumbling"), /*required=*/true, problems);
    window->mutable_tumbling()->set_size_ms(size.value_or(0));
  } else if (!sliding.IsNull()) {
    const std::string sliding_path = Child(path, "sliding");
    v1::SlidingWindow* spec = window->mutable_sliding();
    if (!ExpectMapping(sliding, sliding_path, /*required=*/true, problems)) return;
    Fields sliding_fields(sliding, sliding_path, kSlidingKeys, problems);
    auto size = GetDuration(sliding_fields.Get("size"), Child(sliding_path, "size"), true, problems);
    auto slide = GetDuration(sliding_fields.Get("slide"), Child(sliding_path, "slide"), true, problems);
    spec->set_size_ms(size.value_or(0));
    spec->set_slide_ms(slide.value_or(0));
  } else {
    const std::string session_path = Child(path, "session");
    v1::SessionWindow* spec = window->mutable_session();
    if (!ExpectMapping(session, session_path, /*required=*/true, problems)) return;
    Fields session_fields(session, session_path, kSessionKeys, problems);
    auto gap = GetDuration(session_fields.Get("gap"), Child(session_path, "gap"), true, problems);
    spec->set_gap_ms(gap.value_or(0));
  }
}

// Fills one `where` filter. The shape of `value` depends on the op, so it is
// read only once the op is known (a missing or unknown op is reported alone).
void ParseFilter(const YAML::Node& node, const std::string& path, Problems& problems, v1::Filter* filter) {
  if (!node.IsMap()) {
    problems.Add(path, "must be a mapping");
    return;
  }
  Fields fields(node, path, kFilterKeys, problems);
  if (auto field = GetString(fields.Get("field"), Child(path, "field"), problems)) filter->set_field(*field);
  std::optional<int> op = GetEnum(fields.Get("op"), Child(path, "op"), kFilterOpKind, problems);
  if (op) filter->set_op(static_cast<v1::FilterOp>(*op));
  const std::string value_path = Child(path, "value");
  const YAML::Node value = fields.Get("value");
  if (value.IsNull()) {
    problems.Add(value_path, "is required");
    return;
  }
  if (!op) return;
  if (*op == v1::FILTER_OP_IN) {
    if (!value.IsSequence()) {
      problems.Add(value_path, "must be a list for op in");
      return;
    }
    for (size_t i = 0; i < value.size(); ++i) {
      const YAML::Node element = value[i];
      v1::Scalar* scalar = filter->add_values();  // a placeholder keeps later indexes aligned
      if (element.IsScalar()) {
        *scalar = ToScalar(element);
      } else {
        problems.Add(Element(value_path, i), "must be a scalar");
      }
    }
  } else if (!value.IsScalar()) {
    problems.Add(value_path, "must be a scalar");
  } else {
    *filter->mutable_value() = ToScalar(value);
  }
}

// Fills feature `index` and checks each part right after reading it (see
// CheckFeatureName for `seen`). Also reports `p` where its presence is wrong
// for the aggregate: a proto cannot tell an absent p from p: 0.
void ParseFeature(const YAML::Node& node, size_t index, std::set<std::string>& seen, Problems& problems,
                  v1::FeatureSpec* feature) {
  const std::string path = Element("features", index);
  if (!node.IsMap()) {
    problems.Add(path, "must be a mapping");
    return;
  }
  Fields fields(node, path, kFeatureKeys, problems);
  if (auto name = GetString(fields.Get("name"), Child(path, "name"), problems)) feature->set_name(*name);
  CheckFeatureName(*feature, path, seen, problems);
  std::optional<int> agg = GetEnum(fields.Get("agg"), Child(path, "agg"), kAggregateKind, problems);
  if (agg) feature->set_agg(static_cast<v1::Aggregate>(*agg));
  if (auto field = GetString(fields.Get("field"), Child(path, "field"), problems)) feature->set_field(*field);

  const std::string p_path = Child(path, "p");
  const YAML::Node p = fields.Get("p");
  if (!p.IsNull()) {
    if (!p.IsScalar()) {
      problems.Add(p_path, "must be a number");
    } else if (std::optional<double> number = ParseNumber(p.Scalar())) {
      feature->set_p(*number);
    } else {
      problems.Add(p_path, Quote(p.Scalar()) + " is not a number (use a value in [0, 1], e.g. 0.95)");
    }
  }
  if (agg == v1::AGGREGATE_PERCENTILE && p.IsNull()) problems.Add(p_path, "is required for agg percentile");
  if (agg && *agg != v1::AGGREGATE_PERCENTILE && !p.IsNull()) {
    problems.Add(p_path, "only applies to agg percentile");
  }
  CheckAggregate(*feature, path, problems);

  const std::string window_path = Child(path, "window");
  ParseWindow(fields.Get("window"), window_path, problems, feature->mutable_window());
  CheckWindow(feature->window(), window_path, problems);

  const std::string where_path = Child(path, "where");
  const YAML::Node where = fields.Get("where");
  if (!where.IsNull() && !where.IsSequence()) {
    problems.Add(where_path, "must be a list");
  } else if (where.IsSequence()) {
    for (size_t i = 0; i < where.size(); ++i) {
      v1::Filter* filter = feature->add_where();
      ParseFilter(where[i], Element(where_path, i), problems, filter);
      CheckFilter(*filter, Element(where_path, i), problems);
    }
  }
}

void ParseSink(const YAML::Node& node, Problems& problems, v1::SinkSpec* sink) {
  if (!ExpectMapping(node, "sink", /*required=*/true, problems)) return;
  Fields fields(node, "sink", kSinkKeys, problems);
  if (auto store = GetString(fields.Get("feature_store"), "sink.feature_store", problems)) {
    sink->set_feature_store(*store);
  }
}

void ParseCheckpoint(const YAML::Node& node, Problems& problems, v1::CheckpointSpec* checkpoint) {
  if (!ExpectMapping(node, "checkpoint", /*required=*/false, problems)) return;
  Fields fields(node, "checkpoint", kCheckpointKeys, problems);
  if (auto ms = GetDuration(fields.Get("interval"), "checkpoint.interval", /*required=*/false, problems)) {
    checkpoint->set_interval_ms(*ms);
  }
  if (auto storage = GetString(fields.Get("storage"), "checkpoint.storage", problems)) {
    checkpoint->set_storage(*storage);
  }
}

// Sets every default the YAML may leave out, so a parsed spec is explicit.
// The event-time unit is set later: it depends on the format.
void SetDefaults(v1::JobSpec* spec) {
  spec->mutable_source()->mutable_kafka()->set_start(v1::START_OFFSET_EARLIEST);
  spec->mutable_source()->set_format(v1::RECORD_FORMAT_JSON);
  spec->mutable_event_time()->set_unit(v1::TIME_UNIT_MILLISECONDS);
  spec->mutable_event_time()->set_format(v1::TIME_FORMAT_EPOCH);
  spec->mutable_watermark()->set_max_out_of_orderness_ms(0);
  spec->mutable_watermark()->set_idle_timeout_ms(0);
  spec->mutable_checkpoint()->set_interval_ms(kDefaultCheckpointIntervalMs);
  spec->mutable_checkpoint()->set_storage(std::string(kDefaultCheckpointStorage));
}

// Parses the top-level mapping (or null, for an empty document) into `spec`,
// checking each section right after it is parsed.
void ParseJobSpec(const YAML::Node& root, Problems& problems, v1::JobSpec* spec) {
  SetDefaults(spec);
  Fields fields(root, "", kJobKeys, problems);

  if (auto name = GetString(fields.Get("name"), "name", problems)) spec->set_name(*name);
  CheckName(spec->name(), "name", problems);

  ParseSource(fields.Get("source"), problems, spec->mutable_source());
  CheckSource(spec->source(), problems);

  if (auto key = GetString(fields.Get("key"), "key", problems)) spec->set_key(*key);
  if (spec->key().empty()) problems.Add("key", "is required");

  ParseEventTime(fields.Get("event_time"), problems, spec->mutable_event_time());
  CheckEventTime(spec->event_time(), problems);

  ParseWatermark(fields.Get("watermark"), problems, spec->mutable_watermark());
  if (auto ms = GetDuration(fields.Get("allowed_lateness"), "allowed_lateness", false, problems)) {
    spec->set_allowed_lateness_ms(*ms);
  }

  if (auto view = GetString(fields.Get("view"), "view", problems)) spec->set_view(*view);
  CheckName(spec->view(), "view", problems);

  const YAML::Node features = fields.Get("features");
  if (features.IsNull()) {
    problems.Add("features", "is required");
  } else if (!features.IsSequence()) {
    problems.Add("features", "must be a list");
  } else {
    std::set<std::string> seen;
    for (size_t i = 0; i < features.size(); ++i) {
      ParseFeature(features[i], i, seen, problems, spec->add_features());
    }
    if (spec->features().empty()) problems.Add("features", "must list at least one feature");
  }

  ParseSink(fields.Get("sink"), problems, spec->mutable_sink());
  CheckSink(spec->sink(), problems);

  ParseCheckpoint(fields.Get("checkpoint"), problems, spec->mutable_checkpoint());
  CheckCheckpoint(spec->checkpoint(), problems);
}

// yaml-cpp's syntax error as one line, with a 1-based position when it has one.
Status InvalidYaml(const YAML::Exception& e) {
  if (e.mark.is_null()) return InvalidArgument("invalid YAML: " + e.msg);
  return InvalidArgument("invalid YAML at line " + std::to_string(e.mark.line + 1) + ", column " +
                         std::to_string(e.mark.column + 1) + ": " + e.msg);
}

// The error for a file that cannot be read: NotFound when it does not exist,
// FailedPrecondition otherwise (no permission, a directory, an I/O error).
Status ReadError(const std::string& path, int error) {
  std::string message = "cannot read job spec " + Quote(path) + ": " + std::generic_category().message(error);
  if (error == ENOENT || error == ENOTDIR) return NotFound(std::move(message));
  return FailedPrecondition(std::move(message));
}

}  // namespace

Result<v1::JobSpec> ParseJobSpecYaml(std::string_view yaml) {
  std::vector<YAML::Node> documents;
  try {
    documents = YAML::LoadAll(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return InvalidYaml(e);
  }
  // A trailing "---" makes an empty document; it is not a second spec.
  while (documents.size() > 1 && documents.back().IsNull()) documents.pop_back();
  if (documents.size() > 1) {
    return InvalidArgument("job spec: must be a single YAML document (found " + std::to_string(documents.size()) + ")");
  }
  const YAML::Node root = documents.empty() ? YAML::Node() : documents.front();
  if (!root.IsNull() && !root.IsMap()) return InvalidArgument("job spec: must be a mapping");

  Problems problems;
  v1::JobSpec spec;
  try {
    ParseJobSpec(root, problems, &spec);
  } catch (const YAML::Exception& e) {
    // Reading a parsed document should not throw; if it does, say so plainly.
    return InvalidYaml(e);
  }
  Status status = problems.ToStatus();
  if (!status.ok()) return status;
  return spec;
}

Result<v1::JobSpec> LoadJobSpecFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ReadError(path, errno);
  std::string text;
  char buf[16 * 1024];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int error = errno;
      ::close(fd);
      return ReadError(path, error);
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return ParseJobSpecYaml(text);
}

Status ValidateJobSpec(const v1::JobSpec& spec) {
  Problems problems;
  CheckName(spec.name(), "name", problems);
  CheckSource(spec.source(), problems);
  if (spec.key().empty()) problems.Add("key", "is required");
  CheckEventTime(spec.event_time(), problems);
  CheckNonNegativeDuration(spec.watermark().max_out_of_orderness_ms(), "watermark.max_out_of_orderness", problems);
  CheckNonNegativeDuration(spec.watermark().idle_timeout_ms(), "watermark.idle_timeout", problems);
  CheckNonNegativeDuration(spec.allowed_lateness_ms(), "allowed_lateness", problems);
  CheckName(spec.view(), "view", problems);
  if (spec.features().empty()) problems.Add("features", "must list at least one feature");
  std::set<std::string> seen;
  for (int i = 0; i < spec.features_size(); ++i) CheckFeature(spec.features(i), i, seen, problems);
  CheckSink(spec.sink(), problems);
  CheckCheckpoint(spec.checkpoint(), problems);
  return problems.ToStatus();
}

}  // namespace weir
