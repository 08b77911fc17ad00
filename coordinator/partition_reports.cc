#include "coordinator/partition_reports.h"

#include "coordinator/cluster_events.h"

namespace weir::coordinator {
namespace {

namespace pb = weir::v1;

}  // namespace

void PartitionReports::Record(const std::string& worker, const pb::PartitionStatus& status,
                              const std::optional<PartitionOwner>& owner, int64_t now_ms) {
  const PartitionId partition(status.partition());
  const Epoch epoch(status.epoch());
  Track& t = tracks_[{status.job(), partition}];

  if (status.state() == pb::PARTITION_STATE_FENCED && t.fenced_logged != epoch) {
    t.fenced_logged = epoch;
    events_->Append(events::PartitionFenced(status.job(), partition, worker, epoch, status.state_reason()), now_ms);
  }
  if (status.restored().source() != pb::RESTORE_SOURCE_UNSPECIFIED &&
      (!t.restored_logged.has_value() || epoch > *t.restored_logged)) {
    t.restored_logged = epoch;
    events_->Append(events::PartitionRestored(status.job(), partition, worker, epoch, status.restored()), now_ms);
  }
  const bool from_owner = owner.has_value() && owner->worker == worker && owner->epoch == epoch;
  if (from_owner) {
    if (t.skipped_epoch != epoch) {
      t.skipped_epoch = epoch;
      t.skipped_logged = 0;
    }
    if (status.records_skipped() > t.skipped_logged) {
      events_->Append(events::RecordsSkipped(status.job(), partition, worker, epoch,
                                             status.records_skipped() - t.skipped_logged, status.state_reason()),
                      now_ms);
      t.skipped_logged = status.records_skipped();
    }
  }
  if (from_owner && status.key_conflicts() > 0 && t.conflict_logged != epoch) {
    t.conflict_logged = epoch;
    events_->Append(events::KeyConflict(status.job(), partition, worker, epoch, status.key_conflict()), now_ms);
  }
  if (from_owner && status.state() == pb::PARTITION_STATE_FAILED &&
      (!t.failed || t.failed_reason != status.state_reason())) {
    t.failed = true;
    t.failed_reason = status.state_reason();
    events_->Append(events::PartitionFailed(status.job(), partition, worker, epoch, status.state_reason()), now_ms);
  } else if (from_owner && status.state() == pb::PARTITION_STATE_RUNNING && t.failed) {
    t.failed = false;
    t.failed_reason.clear();
    events_->Append(events::PartitionRecovered(status.job(), partition, worker, epoch), now_ms);
  }

  if (!t.worker.empty() && epoch < Epoch(t.report.epoch())) return;  // an older owner's late word
  t.worker = worker;
  t.report = status;
  t.report.set_owner(worker);
  t.report.set_reported_at_ms(now_ms);
}

std::optional<std::string> PartitionReports::FailedReason(const std::string& job, PartitionId partition,
                                                          const PartitionOwner& owner) const {
  auto it = tracks_.find({job, partition});
  if (it == tracks_.end() || !it->second.failed || it->second.worker != owner.worker ||
      Epoch(it->second.report.epoch()) != owner.epoch) {
    return std::nullopt;
  }
  return it->second.failed_reason;
}

void PartitionReports::Describe(const PartitionOwner& owner, bool owner_live, pb::PartitionStatus* out) const {
  out->set_owner(owner.worker);
  out->set_epoch(owner.epoch.value());
  if (owner.worker.empty()) return;  // unassigned
  if (!owner_live) {
    out->set_state_reason("its owner " + owner.worker +
                          " is not live (lost, or not registered since the coordinator started); it moves to a live "
                          "worker");
  }
  auto it = tracks_.find({out->job(), PartitionId(out->partition())});
  // Only the current owner's report under the current epoch describes the partition.
  const bool reported =
      it != tracks_.end() && it->second.worker == owner.worker && Epoch(it->second.report.epoch()) == owner.epoch;
  if (!reported) {
    if (owner_live) out->set_state(pb::PARTITION_STATE_STARTING);
    return;
  }
  const pb::PartitionStatus& r = it->second.report;
  out->set_offset(r.offset());
  out->set_watermark(r.watermark());
  out->set_lag(r.lag());
  out->set_rows_out(r.rows_out());
  out->set_records_in(r.records_in());
  out->set_dead_letters(r.dead_letters());
  out->set_records_skipped(r.records_skipped());
  out->set_records_shuffled(r.records_shuffled());
  out->set_duplicates_dropped(r.duplicates_dropped());
  out->set_reported_at_ms(r.reported_at_ms());
  out->set_records_skipped(r.records_skipped());
  out->set_key_conflicts(r.key_conflicts());
  out->set_key_conflict(r.key_conflict());
  if (r.has_snapshot()) *out->mutable_snapshot() = r.snapshot();
  if (r.has_restored()) *out->mutable_restored() = r.restored();
  if (!owner_live) return;
  out->set_state(r.state() == pb::PARTITION_STATE_UNSPECIFIED ? pb::PARTITION_STATE_RUNNING : r.state());
  out->set_state_reason(r.state_reason());
}

void PartitionReports::ForgetJob(const std::string& job) {
  tracks_.erase(tracks_.lower_bound({job, PartitionId(INT32_MIN)}), tracks_.upper_bound({job, PartitionId(INT32_MAX)}));
}

}  // namespace weir::coordinator
