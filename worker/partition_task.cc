#include "worker/partition_task.h"

#include <xxhash.h>

#include <algorithm>
#include <cstdint>

#include "common/byte_codec.h"
#include "common/checkpoint_paths.h"
#include "common/clock.h"
#include "common/key_hash.h"
#include "spec/job_spec.h"
#include "spec/spec_hash.h"

namespace weir::worker {
Result<std::shared_ptr<const JobRuntime>> MakeJobRuntime(const weir::v1::JobSpec& spec) {
  auto plan = engine::CompilePlan(spec);
  if (!plan.ok()) return plan.status();
  auto job = std::make_shared<JobRuntime>();
  job->spec = spec;
  job->plan = *plan;
  job->dead_letter_topic = DeadLetterTopicOf(spec);
  job->sink_address = spec.sink().feature_store();
  auto root = CheckpointRoot(spec.checkpoint().storage());
  if (!root.ok()) return root.status();
  job->checkpoint_root = *root;
  job->spec_hash = SpecHash(spec);
  if (IsRekeyed(spec)) {
    auto repartition = std::make_shared<JobRuntime>(*job);
    repartition->spec.mutable_source()->mutable_kafka()->set_topic(RepartitionTopicOf(spec));
    repartition->reads_repartition = true;
    job->repartition = std::move(repartition);
  }
  return std::shared_ptr<const JobRuntime>(std::move(job));
}

PartitionTask::PartitionTask(std::shared_ptr<const JobRuntime> job, PartitionId partition, Epoch epoch,
                             std::shared_ptr<PartitionCounters> counters, RekeyLayout layout)
    : job_(std::move(job)),
      partition_(partition),
      epoch_(epoch),
      layout_(layout),
      stage_(layout.stage(partition.value())),
      counters_(counters != nullptr ? std::move(counters)
                                    : std::make_shared<PartitionCounters>(job_->spec.name(), partition, epoch)),
      decoder_(job_->plan),
      engine_(job_->plan, this),
      batch_(job_->plan->fields.size()),
      last_record_ms_(WallClockMs()) {
  rows_.counters = counters_;
  if (stage_ == 2) merge_ = std::make_unique<engine::RekeyMerge>(layout_.sources);
}

void PartitionTask::OnRecords(std::span<const SourceRecord> records) {
  if (records.empty()) return;
  if (stage_ == 1) return ShuffleRecords(records);
  if (stage_ == 2) return MergeRecords(records);
  const size_t dead_before = dead_letters_.size();
  for (const SourceRecord& r : records) {
    Batch(r);
  }
  RunBatch(dead_before, dead_letters_.size() - dead_before);
  Processed(records.size(), records.back().offset.value());
}

void PartitionTask::ShuffleRecords(std::span<const SourceRecord> records) {
  int64_t bytes = 0;
  const size_t before = shuffle_.size();
  for (const SourceRecord& r : records) {
    engine::Event event;
    decode::DecodeError error;
    if (!decoder_.Decode(r.value, r.offset, &event, &error)) {
      AddDeadLetter(error.reason, error.detail, r.offset.value(), r.key, r.value);
      continue;
    }
    ShuffleMessage m;
    m.partition = KafkaPartitionForKey(event.key, layout_.repartitions);
    m.source_offset = r.offset.value();
    m.key = std::string(event.key);
    m.value = std::string(r.value);
    bytes += static_cast<int64_t>(m.value.size() + m.key.size());
    shuffle_.push_back(std::move(m));
    stage1_max_time_ = std::max(stage1_max_time_, event.time);
  }
  counters_->records_shuffled.fetch_add(static_cast<int64_t>(shuffle_.size() - before), std::memory_order_relaxed);
  counters_->bytes_shuffled.fetch_add(bytes, std::memory_order_relaxed);
  if (stage1_max_time_ != kMinTime) {
    RaiseStage1Watermark(SaturatingSub(stage1_max_time_, job_->plan->max_out_of_orderness));
  }
  Processed(records.size(), records.back().offset.value());
}

void PartitionTask::MergeRecords(std::span<const SourceRecord> records) {
  size_t dead_before = dead_letters_.size();
  for (const SourceRecord& r : records) {
    const engine::RepartitionMeta& meta = r.meta;
    if (meta.marker) {
      // Everything before the marker runs first: the watermark it brings
      // applies after them, in topic order.
      RunBatch(dead_before, dead_letters_.size() - dead_before);
      dead_before = dead_letters_.size();
      engine_.AdvanceWatermark(merge_->OnMarker(meta.source_partition, meta.watermark));
      continue;
    }
    if (meta.source_partition < 0 || meta.source_partition >= layout_.sources || meta.source_offset < 0) {
      AddDeadLetter(engine::DeadLetterReason::kDecode,
                    "a repartition-topic message without valid weir.sp/weir.so headers (not written by stage 1)",
                    r.offset.value(), r.key, r.value);
      continue;
    }
    if (!merge_->Admit(meta.source_partition, meta.source_offset)) {
      counters_->duplicates_dropped.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    Batch(r);
  }
  RunBatch(dead_before, dead_letters_.size() - dead_before);
  Processed(records.size(), records.back().offset.value());
}

void PartitionTask::Batch(const SourceRecord& r) {
  engine::Event event;
  decode::DecodeError error;
  if (decoder_.Decode(r.value, r.offset, &event, &error)) {
    batch_.Add(event);
    batch_records_.push_back(&r);
  } else {
    AddDeadLetter(error.reason, error.detail, r.offset.value(), r.key, r.value);
  }
}

void PartitionTask::RaiseStage1Watermark(int64_t w) { stage1_watermark_ = std::max(stage1_watermark_, w); }

void PartitionTask::MarkWatermark(int64_t now_ms, bool force) {
  if (stage_ != 1 || (!force && stage1_watermark_ == marked_watermark_) || stage1_watermark_ == kMinTime) return;
  // Every stage-1 task marks every repartition partition: S x R messages a
  // round, so rounds are spaced by repartition.marker_interval.
  const int64_t interval = job_->spec.repartition().marker_interval_ms() > 0
                               ? job_->spec.repartition().marker_interval_ms()
                               : kDefaultMarkerIntervalMs;
  if (!force && now_ms - marked_at_ms_ < interval) return;
  marked_at_ms_ = now_ms;
  marked_watermark_ = stage1_watermark_;
  for (int32_t p = 0; p < layout_.repartitions; ++p) {
    ShuffleMessage m;
    m.partition = p;
    m.marker = true;
    m.watermark = stage1_watermark_;
    shuffle_.push_back(std::move(m));
  }
}

void PartitionTask::TakeShuffle(std::vector<ShuffleMessage>* out) {
  if (shuffle_.empty()) return;
  std::move(shuffle_.begin(), shuffle_.end(), std::back_inserter(*out));
  shuffle_.clear();
}

void PartitionTask::RunBatch(size_t dead_before, size_t decode_failures) {
  engine_.ProcessBatch(batch_.data(), batch_.size());
  // A record yields one dead letter at most: the decode failures above, then
  // the late ones the engine raised, each list in offset order. Merged by
  // offset they are in record order, as OnRecord one by one gives them.
  const auto first = dead_letters_.begin() + static_cast<std::ptrdiff_t>(dead_before);
  std::inplace_merge(first, first + static_cast<std::ptrdiff_t>(decode_failures), dead_letters_.end(),
                     [](const DeadLetterRecord& a, const DeadLetterRecord& b) { return a.offset < b.offset; });
  batch_.Clear();
  batch_records_.clear();
}

void PartitionTask::OnRecord(std::string_view value, std::string_view key, int64_t offset) {
  if (stage_ != 0) {  // the stages need the record's headers: one record as a batch
    SourceRecord r{partition_, KafkaOffset(offset), key, value, {}};
    return OnRecords(std::span<const SourceRecord>(&r, 1));
  }
  record_value_ = value;
  record_key_ = key;
  engine::Event event;
  decode::DecodeError error;
  if (decoder_.Decode(value, KafkaOffset(offset), &event, &error)) {
    engine_.Process(event);
  } else {
    AddDeadLetter(error.reason, error.detail, offset, key, value);
  }
  record_value_ = {};
  record_key_ = {};
  Processed(1, offset);
}

void PartitionTask::Processed(size_t records, int64_t last_offset) {
  ++changes_;
  counters_->records_in.fetch_add(static_cast<int64_t>(records), std::memory_order_relaxed);
  counters_->next_offset.store(last_offset + 1, std::memory_order_relaxed);
  counters_->watermark.store(stage_ == 1 ? stage1_watermark_ : engine_.watermark(), std::memory_order_relaxed);
  if (job_->plan->idle_timeout > 0) last_record_ms_ = WallClockMs();
}

void PartitionTask::OnIdleCheck(int64_t now_ms) {
  const int64_t idle = job_->plan->idle_timeout;
  // Stage 2 follows the markers only: stage 1 applies the idle timeout to
  // its source partition and marks the result, so stage 2 stays a function
  // of the repartition topic's content.
  if (idle <= 0 || now_ms - last_record_ms_ < idle || stage_ == 2) return;
  if (stage_ == 1) {
    const int64_t before = stage1_watermark_;
    RaiseStage1Watermark(SaturatingSub(now_ms, job_->plan->max_out_of_orderness));
    if (stage1_watermark_ != before) ++changes_;
    counters_->watermark.store(stage1_watermark_, std::memory_order_relaxed);
    return;
  }
  const int64_t before = engine_.watermark();
  engine_.AdvanceWatermark(SaturatingSub(now_ms, job_->plan->max_out_of_orderness));
  if (engine_.watermark() != before) ++changes_;
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
  out->set_available_at(row.available_at);
  if (row.value.is_text) {
    out->mutable_value()->set_text(std::string(row.value.text));
  } else {
    out->mutable_value()->set_number(row.value.number);
  }
  rows_.bytes += 64 + job_->plan->view.size() + row.key.size() + feature.name.size() + row.value.text.size();
}

void PartitionTask::OnDeadLetter(engine::DeadLetterReason reason, const engine::Event& event, std::string_view detail) {
  // In a batch the engine hands back the batch's own event: its index names
  // the record.
  const auto at = reinterpret_cast<uintptr_t>(&event);
  const auto begin = reinterpret_cast<uintptr_t>(batch_.data());
  if (!batch_.empty() && at >= begin && at < begin + batch_.size() * sizeof(engine::Event)) {
    const SourceRecord& r = *batch_records_[(at - begin) / sizeof(engine::Event)];
    AddDeadLetter(reason, detail, event.offset.value(), r.key, r.value);
    return;
  }
  AddDeadLetter(reason, detail, event.offset.value(), record_key_, record_value_);
}

void PartitionTask::AddDeadLetter(engine::DeadLetterReason reason, std::string_view detail, int64_t offset,
                                  std::string_view key, std::string_view value) {
  counters_->dead_letters[static_cast<size_t>(reason)].fetch_add(1, std::memory_order_relaxed);
  dead_letters_.push_back(
      DeadLetterRecord{reason, std::string(detail), partition_.value(), offset, std::string(key), std::string(value)});
}

Status PartitionTask::Restore(const PartitionSnapshot& snapshot) {
  if (snapshot.job != job_->spec.name() || snapshot.partition != partition_.value()) {
    return DataLoss("the snapshot is of job " + snapshot.job + " partition " + std::to_string(snapshot.partition));
  }
  WEIR_RETURN_IF_ERROR(engine_.Restore(snapshot.engine_state));
  if (stage_ == 2) {
    if (snapshot.rekey_state.empty()) return DataLoss("the snapshot has no re-keying state (not a stage-2 snapshot)");
    WEIR_RETURN_IF_ERROR(merge_->Restore(snapshot.rekey_state));
  } else if (stage_ == 1) {
    ByteReader r(snapshot.rekey_state);
    const auto max_time = r.Get<int64_t>();
    const auto watermark = r.Get<int64_t>();
    if (!r.ok() || !r.done()) return DataLoss("the snapshot has no re-keying state (not a stage-1 snapshot)");
    stage1_max_time_ = max_time;
    stage1_watermark_ = watermark;
  }
  start_offset_ = KafkaOffset(snapshot.next_offset);
  if (snapshot.next_offset >= 0) counters_->next_offset.store(snapshot.next_offset, std::memory_order_relaxed);
  counters_->watermark.store(stage_ == 1 ? stage1_watermark_ : engine_.watermark(), std::memory_order_relaxed);
  return Status::Ok();
}

int64_t PartitionTask::NextOffset() const {
  const int64_t next = counters_->next_offset.load(std::memory_order_relaxed);
  return next >= 0 ? next : start_offset_.value();
}

PartitionSnapshot PartitionTask::Snapshot(CheckpointId checkpoint) const {
  PartitionSnapshot s;
  s.job = job_->spec.name();
  s.partition = partition_.value();
  s.epoch = epoch_.value();
  s.checkpoint = checkpoint.value();
  s.next_offset = NextOffset();
  s.engine_state = engine_.Snapshot();
  if (stage_ == 2) s.rekey_state = merge_->Snapshot();
  if (stage_ == 1) {
    ByteWriter w;
    w.Put<int64_t>(stage1_max_time_);
    w.Put<int64_t>(stage1_watermark_);
    s.rekey_state = w.Take();
  }
  return s;
}

bool PartitionTask::TakeRows(PendingRows* out) {
  if (row_count_ == 0) return false;
  rows_.batch.set_job(job_->spec.name());
  rows_.batch.set_partition(partition_.value());
  rows_.batch.set_epoch(epoch_.value());
  rows_.batch.set_view_retention_ms(job_->spec.retention_ms());
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
