#include "worker/partition_task.h"

#include <xxhash.h>

#include <algorithm>

#include "common/checkpoint_paths.h"
#include "common/clock.h"
#include "spec/job_spec.h"
#include "spec/spec_hash.h"

namespace weir::worker {
Result<std::shared_ptr<const JobRuntime>> MakeJobRuntime(const weir::v1::JobSpec& spec) {
  auto plan = engine::CompilePlan(spec);
  if (!plan.ok()) return plan.status();
  auto job = std::make_shared<JobRuntime>();
  job->spec = spec;
  job->plan = *plan;
  job->dead_letter_topic = spec.source().kafka().dead_letter_topic().empty()
                               ? spec.name() + ".dlq"
                               : spec.source().kafka().dead_letter_topic();
  job->sink_address = spec.sink().feature_store();
  auto root = CheckpointRoot(spec.checkpoint().storage());
  if (!root.ok()) return root.status();
  job->checkpoint_root = *root;
  job->spec_hash = SpecHash(spec);
  return std::shared_ptr<const JobRuntime>(std::move(job));
}

PartitionTask::PartitionTask(std::shared_ptr<const JobRuntime> job, int32_t partition, uint64_t epoch,
                             std::shared_ptr<PartitionCounters> counters)
    : job_(std::move(job)),
      partition_(partition),
      epoch_(epoch),
      counters_(counters != nullptr ? std::move(counters)
                                    : std::make_shared<PartitionCounters>(job_->spec.name(), partition, epoch)),
      decoder_(job_->plan),
      engine_(job_->plan, this),
      last_record_ms_(WallClockMs()) {
  rows_.counters = counters_;
}

void PartitionTask::OnRecord(std::string_view value, std::string_view key, int64_t offset) {
  record_value_ = value;
  record_key_ = key;
  engine::Event event;
  decode::DecodeError error;
  if (decoder_.Decode(value, KafkaOffset(offset), &event, &error)) {
    engine_.Process(event);
  } else {
    AddDeadLetter(error.reason, error.detail, offset);
  }
  record_value_ = {};
  record_key_ = {};
  counters_->records_in.fetch_add(1, std::memory_order_relaxed);
  counters_->next_offset.store(offset + 1, std::memory_order_relaxed);
  counters_->watermark.store(engine_.watermark(), std::memory_order_relaxed);
  if (job_->plan->idle_timeout > 0) last_record_ms_ = WallClockMs();
}

void PartitionTask::OnIdleCheck(int64_t now_ms) {
  const int64_t idle = job_->plan->idle_timeout;
  if (idle <= 0 || now_ms - last_record_ms_ < idle) return;
  engine_.AdvanceWatermark(SaturatingSub(now_ms, job_->plan->max_out_of_orderness));
  counters_->watermark.store(engine_.watermark(), std::memory_order_relaxed);
}

void PartitionTask::OnRow(const engine::FeatureRow& row) {
  if (row_count_ == 0) rows_.first_row_at = std::chrono::steady_clock::now();
  ++row_count_;
  weir::v1::FeatureRow* out = rows_.batch.add_rows();
  const engine::FeaturePlan& feature = job_->plan->features[row.feature];
  out->set_view(job_->plan->view);
  out->set_key(std::string(row.key));
  out->set_feature(feature.name);
  out->set_window_start(row.window_start);
  out->set_window_end(row.window_end);
  out->set_revision(row.revision);
  if (row.value.is_text) {
    out->mutable_value()->set_text(std::string(row.value.text));
  } else {
    out->mutable_value()->set_number(row.value.number);
  }
  rows_.bytes += 64 + job_->plan->view.size() + row.key.size() + feature.name.size() + row.value.text.size();
}

void PartitionTask::OnDeadLetter(engine::DeadLetterReason reason, const engine::Event& event, std::string_view detail) {
  AddDeadLetter(reason, detail, event.offset.value());
}

void PartitionTask::AddDeadLetter(engine::DeadLetterReason reason, std::string_view detail, int64_t offset) {
  counters_->dead_letters[static_cast<size_t>(reason)].fetch_add(1, std::memory_order_relaxed);
  dead_letters_.push_back(DeadLetterRecord{reason, std::string(detail), partition_, offset, std::string(record_key_),
                                           std::string(record_value_)});
}

Status PartitionTask::Restore(const PartitionSnapshot& snapshot) {
  if (snapshot.job != job_->spec.name() || snapshot.partition != partition_) {
    return DataLoss("the snapshot is of job " + snapshot.job + " partition " + std::to_string(snapshot.partition));
  }
  WEIR_RETURN_IF_ERROR(engine_.Restore(snapshot.engine_state));
  start_offset_ = snapshot.next_offset;
  if (snapshot.next_offset >= 0) counters_->next_offset.store(snapshot.next_offset, std::memory_order_relaxed);
  counters_->watermark.store(engine_.watermark(), std::memory_order_relaxed);
  return Status::Ok();
}

PartitionSnapshot PartitionTask::Snapshot(uint64_t checkpoint) const {
  PartitionSnapshot s;
  s.job = job_->spec.name();
  s.partition = partition_;
  s.epoch = epoch_;
  s.checkpoint = checkpoint;
  const int64_t next = counters_->next_offset.load(std::memory_order_relaxed);
  s.next_offset = next >= 0 ? next : start_offset_;
  s.engine_state = engine_.Snapshot();
  return s;
}

bool PartitionTask::TakeRows(PendingRows* out) {
  if (row_count_ == 0) return false;
  rows_.batch.set_job(job_->spec.name());
  rows_.batch.set_partition(partition_);
  rows_.batch.set_epoch(epoch_);
  counters_->rows_emitted.fetch_add(static_cast<int64_t>(row_count_), std::memory_order_relaxed);
  *out = std::move(rows_);
  rows_ = PendingRows{};
  rows_.counters = counters_;
  row_count_ = 0;
  return true;
}

void PartitionTask::TakeDeadLetters(std::vector<DeadLetterRecord>* out) {
  if (dead_letters_.empty()) return;
  std::move(dead_letters_.begin(), dead_letters_.end(), std::back_inserter(*out));
  dead_letters_.clear();
}

}  // namespace weir::worker
