#include "spec/job_spec_yaml.h"

#include <fcntl.h>
#include <unistd.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <optional>
#include <set>
#include <span>
#include <sstream>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "common/duration.h"
#include "common/utf8.h"
#include "spec/spec_checks.h"

namespace weir {
namespace {

using namespace spec_detail;  // NOLINT(google-build-using-namespace): spec/'s own internals

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
// all of it reads as one, and text otherwise. A plain number beyond double's
// range is a problem at `path`, not text that no record could ever match.
v1::Scalar ToScalar(const YAML::Node& node, const std::string& path, Problems& problems) {
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
    if (IsOutOfRangeNumber(text)) {
      problems.Add(path, text +
                             " is beyond the range of a number (about ±1.8e308, smallest 2.2e-308); quote it to "
                             "compare as text");
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
    const YAML::Node properties = kafka_fields.Get("properties");
    if (ExpectMapping(properties, "source.kafka.properties", /*required=*/false, problems)) {
      for (const auto& entry : properties) {
        const std::string key = entry.first.IsScalar() ? entry.first.Scalar() : std::string();
        const std::string path = "source.kafka.properties." + key;
        if (key.empty()) {
          problems.Add("source.kafka.properties", "every key must be a non-empty librdkafka setting name");
        } else if (!entry.second.IsScalar()) {
          problems.Add(path, "must be a single value (a string, number or boolean)");
        } else {
          (*kafka->mutable_properties())[key] = entry.second.Scalar();
        }
      }
    }
  }
  if (auto format = GetEnum(fields.Get("format"), "source.format", kRecordFormatKind, problems)) {
    source->set_format(static_cast<v1::RecordFormat>(*format));
  }
  if (auto gap = GetEnum(fields.Get("on_offset_gap"), "source.on_offset_gap", kOffsetGapKind, problems)) {
    source->set_on_offset_gap(static_cast<v1::OffsetGapPolicy>(*gap));
  }
  if (auto by = GetString(fields.Get("partitioned_by"), "source.partitioned_by", problems)) {
    source->set_partitioned_by(*by);
  }
}

void ParseRepartition(const YAML::Node& node, Problems& problems, v1::JobSpec* spec) {
  if (node.IsNull() || !ExpectMapping(node, "repartition", /*required=*/false, problems)) return;
  Fields fields(node, "repartition", kRepartitionKeys, problems);
  v1::RepartitionSpec* repartition = spec->mutable_repartition();
  if (auto text = GetString(fields.Get("partitions"), "repartition.partitions", problems)) {
    int32_t n = 0;
    const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), n);
    if (ec != std::errc() || end != text->data() + text->size()) {
      problems.Add("repartition.partitions", "\"" + *text + "\" is not a whole number of partitions");
    } else {
      repartition->set_partitions(n);
    }
  }
  if (auto ms = GetDuration(fields.Get("marker_interval"), "repartition.marker_interval", false, problems)) {
    repartition->set_marker_interval_ms(*ms);
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
        *scalar = ToScalar(element, Element(value_path, i), problems);
      } else {
        problems.Add(Element(value_path, i), "must be a scalar");
      }
    }
  } else if (!value.IsScalar()) {
    problems.Add(value_path, "must be a scalar");
  } else {
    *filter->mutable_value() = ToScalar(value, value_path, problems);
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
  spec->mutable_source()->set_on_offset_gap(v1::OFFSET_GAP_POLICY_STOP);
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
  if (auto ms = GetDuration(fields.Get("retention"), "retention", false, problems)) spec->set_retention_ms(*ms);

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
  CheckTimeLimits(*spec, problems);

  ParseRepartition(fields.Get("repartition"), problems, spec);
  CheckRekey(*spec, problems);
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

// Records, per document, whether its root is null; nothing else.
class DocumentRoots : public YAML::EventHandler {
 public:
  std::vector<bool> null_roots;

  void OnDocumentStart(const YAML::Mark&) override { depth_ = 0; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override { Root(true); }
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override { Root(false); }
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override { Root(false); }
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    Root(false);
    ++depth_;
  }
  void OnSequenceEnd() override { --depth_; }
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    Root(false);
    ++depth_;
  }
  void OnMapEnd() override { --depth_; }

 private:
  void Root(bool is_null) {
    if (depth_ == 0) null_roots.push_back(is_null);
  }
  int depth_ = 0;
};

// How many documents `yaml` holds, not counting trailing empty ones (a
// trailing "---" is not a second spec). yaml-cpp 0.7's LoadAll never ends on
// some malformed input (a lone ",", yaml-cpp issue 1040), so the documents
// are walked here with a bound. Throws YAML::Exception on a syntax error.
Result<size_t> CountDocuments(std::string_view yaml) {
  constexpr size_t kMaxDocuments = 64;
  std::istringstream in{std::string(yaml)};
  YAML::Parser parser(in);
  DocumentRoots roots;
  while (parser.HandleNextDocument(roots)) {
    if (roots.null_roots.size() > kMaxDocuments) {
      return InvalidArgument(
          "job spec: is not valid YAML (the parser does not advance: look for a stray ',', "
          "'[' or '{' at the top level)");
    }
  }
  size_t n = roots.null_roots.size();
  while (n > 1 && roots.null_roots[n - 1]) --n;
  return n;
}

}  // namespace

Result<v1::JobSpec> ParseJobSpecYaml(std::string_view yaml) {
  // Every name, field and value of a spec crosses the wire as a proto3
  // string, which must be UTF-8; YAML text is UTF-8 too.
  if (const size_t valid = ValidUtf8Prefix(yaml); valid != yaml.size()) {
    const size_t line = 1 + static_cast<size_t>(std::count(yaml.begin(), yaml.begin() + valid, '\n'));
    return InvalidArgument("job spec: not valid UTF-8 at line " + std::to_string(line) + " (byte " +
                           std::to_string(valid + 1) + "); save the file as UTF-8");
  }
  YAML::Node root;
  try {
    const Result<size_t> documents = CountDocuments(yaml);
    if (!documents.ok()) return documents.status();
    if (*documents > 1) {
      return InvalidArgument("job spec: must be a single YAML document (found " + std::to_string(*documents) + ")");
    }
    root = YAML::Load(std::string(yaml));  // the first document only
  } catch (const YAML::Exception& e) {
    return InvalidYaml(e);
  }
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

}  // namespace weir
