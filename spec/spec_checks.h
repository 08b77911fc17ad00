// Internal to spec/: what the validator and the YAML parser share — the
// problem list, path and quoting helpers, the schema's keys and enum
// spellings, and the semantic checks each section of a spec must pass.
// Not part of weir::spec's interface: include spec/job_spec.h instead.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "weir/v1/job.pb.h"

namespace weir::spec_detail {

constexpr size_t kMaxNameLength = 128;
constexpr size_t kMaxTopicLength = 249;  // Kafka's own limit
constexpr int64_t kDefaultCheckpointIntervalMs = 10'000;
constexpr std::string_view kDefaultCheckpointStorage = "file:///var/lib/weir/checkpoints";
// Checkpoints live under a local (or mounted) directory, named by an absolute path.
constexpr std::string_view kFileStoragePrefix = "file:///";
constexpr std::string_view kDurationHint = "must be a duration (use a number with a unit: 250ms, 5s, 10m, 1h, 7d)";

// The keys each mapping of the schema allows, in schema order (the order the
// "unknown field" message lists them in).
constexpr std::string_view kJobKeys[] = {
    "name", "source",    "key",      "event_time", "watermark",  "allowed_lateness",
    "view", "retention", "features", "sink",       "checkpoint", "repartition"};
constexpr std::string_view kSourceKeys[] = {"kafka", "format", "on_offset_gap", "partitioned_by"};
constexpr std::string_view kRepartitionKeys[] = {"partitions", "marker_interval"};
constexpr std::string_view kKafkaKeys[] = {"brokers", "topic", "start", "dead_letter_topic", "properties"};
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
constexpr EnumEntry kOffsetGapEntries[] = {{"stop", v1::OFFSET_GAP_POLICY_STOP}, {"skip", v1::OFFSET_GAP_POLICY_SKIP}};
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
constexpr EnumKind kOffsetGapKind{"offset gap policy", kOffsetGapEntries};
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

std::string Child(const std::string& path, std::string_view key);
std::string Element(const std::string& path, size_t index);
std::string Quote(std::string_view text);
std::string FormatNumber(double value);
std::optional<double> ParseNumber(std::string_view text);
// True when all of `text` is a decimal number beyond double's range ("1e400",
// "-1e999", "1e-400"): a number that cannot be represented, not text.
bool IsOutOfRangeNumber(std::string_view text);
std::string UnknownEnum(const EnumKind& kind, const std::string& shown);
std::optional<int> FindEnum(const EnumKind& kind, std::string_view name);
std::string_view EnumName(const EnumKind& kind, int value);

// The longest window, session gap, lateness or out-of-orderness a spec may
// give: beyond it, time arithmetic nears int64's range and state is kept for
// longer than any feature needs (docs/job-spec.md, "Limits").
inline constexpr int64_t kLongestDurationMs = 3660LL * 24 * 3600 * 1000;  // 3660d, about 10 years
// The most windows one event belongs to (sliding size / slide).
inline constexpr int64_t kMaxWindowsPerEvent = 10'000;

// The semantic checks, one per section; each adds what it finds to `problems`.
void CheckName(const std::string& value, const std::string& path, Problems& problems);
void CheckTopic(const std::string& value, const std::string& path, bool required, Problems& problems);
void CheckNonNegativeDuration(int64_t ms, const std::string& path, Problems& problems);
void CheckPositiveDuration(int64_t ms, const std::string& path, Problems& problems);
void CheckSource(const v1::Source& source, Problems& problems);
void CheckEventTime(const v1::EventTimeSpec& event_time, Problems& problems);
void CheckWindow(const v1::WindowSpec& window, const std::string& path, Problems& problems);
void CheckFilter(const v1::Filter& filter, const std::string& path, Problems& problems);
void CheckFeatureName(const v1::FeatureSpec& feature, const std::string& path, std::set<std::string>& seen,
                      Problems& problems);
void CheckAggregate(const v1::FeatureSpec& feature, const std::string& path, Problems& problems);
void CheckFeature(const v1::FeatureSpec& feature, size_t index, std::set<std::string>& seen, Problems& problems);
void CheckSink(const v1::SinkSpec& sink, Problems& problems);
void CheckCheckpoint(const v1::CheckpointSpec& checkpoint, Problems& problems);
// The durations of watermark, lateness and checkpoint against kLongestDurationMs.
void CheckTimeLimits(const v1::JobSpec& spec, Problems& problems);
// Checks source.partitioned_by and repartition (re-keyed jobs).
void CheckRekey(const v1::JobSpec& spec, Problems& problems);

}  // namespace weir::spec_detail
