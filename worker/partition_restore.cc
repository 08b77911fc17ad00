#include "worker/partition_restore.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>

#include "worker/snapshot_file.h"

namespace weir::worker {
namespace {

std::string Describe(const weir::v1::SnapshotRef& ref) {
  return ref.checkpoint() == 0 ? std::string("the handoff snapshot") : "checkpoint " + std::to_string(ref.checkpoint());
}

}  // namespace

const char* RestoreSourceName(RestoreSource source) {
  switch (source) {
    case RestoreSource::kHandoff: return "handoff";
    case RestoreSource::kCheckpoint: return "checkpoint";
    case RestoreSource::kNone: return "none";
  }
  return "none";
}

RestoreOutcome RestorePartition(PartitionTask& task, const std::vector<weir::v1::SnapshotRef>& restore_from) {
  const std::string& job = task.job()->spec.name();
  RestoreOutcome outcome;
  for (size_t i = 0; i < restore_from.size(); ++i) {
    const weir::v1::SnapshotRef& ref = restore_from[i];
    auto snapshot = ReadSnapshotFile(ref.path());
    const Status s = snapshot.ok() ? task.Restore(*snapshot) : snapshot.status();
    if (s.ok()) {
      spdlog::info("job {} partition {}: restored {} (next offset {})", job, task.partition().value(), Describe(ref),
                   task.start_offset().value());
      outcome.source = ref.checkpoint() == 0 ? RestoreSource::kHandoff : RestoreSource::kCheckpoint;
      outcome.checkpoint = CheckpointId(ref.checkpoint());
      return outcome;
    }
    if (outcome.fallbacks == 0) outcome.detail = Describe(ref) + ": " + s.message();
    ++outcome.fallbacks;
    spdlog::warn("job {} partition {}: cannot restore {}: {}; {}", job, task.partition().value(), Describe(ref),
                 s.message(),
                 i + 1 < restore_from.size() ? "falling back to the previous committed checkpoint"
                                             : "no older snapshot is left");
  }
  spdlog::error(
      "job {} partition {}: none of {} snapshots could be restored; starting from the job's start offset "
      "with empty state (replaying the topic from there)",
      job, task.partition().value(), restore_from.size());
  outcome.source = RestoreSource::kNone;
  return outcome;
}

weir::v1::RestoreInfo ToRestoreInfo(const RestoreOutcome* outcome) {
  weir::v1::RestoreInfo info;
  if (outcome == nullptr) {
    info.set_source(weir::v1::RESTORE_SOURCE_START);
    return info;
  }
  switch (outcome->source) {
    case RestoreSource::kHandoff: info.set_source(weir::v1::RESTORE_SOURCE_HANDOFF); break;
    case RestoreSource::kCheckpoint:
      info.set_source(weir::v1::RESTORE_SOURCE_CHECKPOINT);
      info.set_checkpoint(outcome->checkpoint.value());
      break;
    case RestoreSource::kNone: info.set_source(weir::v1::RESTORE_SOURCE_START); break;
  }
  info.set_fallbacks(static_cast<int32_t>(outcome->fallbacks));
  info.set_detail(outcome->detail);
  return info;
}

RestoreMetrics::RestoreMetrics(prometheus::Registry* registry) {
  if (registry == nullptr) return;
  restores_ = &prometheus::BuildCounter()
                   .Name("weir_worker_partition_restores_total")
                   .Help(
                       "Partitions started from their restore points, per job and by what they started from: "
                       "handoff, checkpoint, or none (nothing readable: the job's start offset)")
                   .Register(*registry);
  fallbacks_ = &prometheus::BuildCounter()
                    .Name("weir_worker_restore_fallbacks_total")
                    .Help("Restore points skipped because they could not be read back whole, per job")
                    .Register(*registry);
}

void RestoreMetrics::Record(const std::string& job, const RestoreOutcome& outcome) {
  if (restores_ == nullptr) return;
  restores_->Add({{"job", job}, {"source", RestoreSourceName(outcome.source)}}).Increment();
  prometheus::Counter& fallbacks = fallbacks_->Add({{"job", job}});  // present, at 0, once the job restored
  if (outcome.fallbacks > 0) fallbacks.Increment(static_cast<double>(outcome.fallbacks));
}

}  // namespace weir::worker
