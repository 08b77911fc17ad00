#include "tests/support/engine_harness.h"

#include <stdexcept>

#include "engine/row_format.h"
#include "spec/job_spec_yaml.h"

namespace weir::testing {

std::string JobYaml(std::string_view features, std::string_view extra) {
  std::string y =
      "name: test-job\n"
      "source:\n"
      "  kafka: { brokers: \"127.0.0.1:9092\", topic: events }\n"
      "key: k\n"
      "event_time: { field: ts, unit: ms }\n"
      "view: v\n"
      "sink: { feature_store: \"127.0.0.1:7070\" }\n";
  y += extra;
  if (!extra.empty() && extra.back() != '\n') y += "\n";
  y += "features:\n";
  y += features;
  return y;
}

std::shared_ptr<const engine::JobPlan> MustCompile(std::string_view yaml) {
  auto spec = ParseJobSpecYaml(yaml);
  if (!spec.ok()) throw std::runtime_error("invalid test spec: " + spec.status().message());
  auto plan = engine::CompilePlan(*spec);
  if (!plan.ok()) throw std::runtime_error("cannot compile test spec: " + plan.status().message());
  return *plan;
}

EngineHarness::EngineHarness(std::shared_ptr<const engine::JobPlan> plan)
    : plan_(plan), engine_(std::make_unique<engine::PartitionEngine>(plan, this)), decoder_(plan) {}

void EngineHarness::Feed(std::string_view json) {
  engine::Event event;
  decode::DecodeError error;
  const KafkaOffset offset(offset_++);
  if (!decoder_.Decode(json, offset, &event, &error)) {
    dead_letters_.push_back(std::string(engine::DeadLetterReasonName(error.reason)) + " @" +
                            std::to_string(offset.value()));
    return;
  }
  engine_->Process(event);
}

void EngineHarness::Event(std::string_view key, int64_t ts, std::string_view more) {
  std::string json = "{\"k\":\"" + std::string(key) + "\",\"ts\":" + std::to_string(ts);
  json += more;
  json += "}";
  Feed(json);
}

std::vector<std::string> EngineHarness::TakeRows() {
  std::vector<std::string> out;
  out.swap(rows_);
  return out;
}

void EngineHarness::RestoreInto(const std::string& snapshot) {
  engine_ = std::make_unique<engine::PartitionEngine>(plan_, this);
  Status s = engine_->Restore(snapshot);
  if (!s.ok()) throw std::runtime_error("restore failed: " + s.message());
}

void EngineHarness::OnRow(const engine::FeatureRow& row) {
  std::string value;
  if (row.value.is_text) {
    engine::AppendJsonString(value, row.value.text);
  } else {
    engine::AppendJsonNumber(value, row.value.number);
  }
  std::string s = plan_->features[row.feature].name + " " + std::string(row.key) + " [" +
                  std::to_string(row.window_start) + "," + std::to_string(row.window_end) + ") " + value + " r" +
                  std::to_string(row.revision);
  rows_.push_back(s);
  all_rows_.push_back(s);
  all_available_at_.push_back(row.available_at);
}

void EngineHarness::OnDeadLetter(engine::DeadLetterReason reason, const engine::Event& event, std::string_view) {
  dead_letters_.push_back(std::string(engine::DeadLetterReasonName(reason)) + " @" +
                          std::to_string(event.offset.value()));
}

}  // namespace weir::testing
