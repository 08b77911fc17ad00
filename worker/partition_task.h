// PartitionTask: one owned partition of one job: its engine, its decoder, and
// the rows and dead letters it produced that are not yet handed on.
//
// Lifecycle: created when the worker takes the partition (at an assignment's
// epoch), fed records in offset order, dropped when the partition is lost.
// Two ways to feed it, with identical results (rows, dead letters and their
// order, offsets, state, snapshots): OnRecords, a poll's records of this
// partition decoded first and run as one engine batch (the processing
// thread's path), and OnRecord, one at a time (the reference, for tests).
// Thread: owned by exactly one processing thread (shared-nothing); only its
// PartitionCounters are read elsewhere.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "decode/event_batch.h"
#include "decode/record_decoder.h"
#include "engine/partition_engine.h"
#include "engine/rekey_merge.h"
#include "weir/v1/services.pb.h"
#include "worker/job_runtime.h"
#include "worker/partition_counters.h"
#include "worker/partition_source.h"
#include "worker/snapshot_file.h"

namespace weir::worker {

class DeadLetterOutput;

// A record the job refused, bound for the dead-letter topic.
struct DeadLetterRecord {
  engine::DeadLetterReason reason = engine::DeadLetterReason::kDecode;
  std::string detail;
  int32_t partition = 0;
  int64_t offset = 0;
  std::string key;     // the Kafka message key, kept as the DLQ message's key
  std::string record;  // the record's bytes
};

// A message stage 1 of a re-keyed job writes to the repartition topic: a
// record, its bytes unchanged, or a watermark marker (empty value).
struct ShuffleMessage {
  int32_t partition = 0;  // of the repartition topic
  bool marker = false;
  int64_t source_offset = 0;  // records
  int64_t watermark = 0;      // markers: the source partition's watermark
  std::string key;            // records: the new key (the message's key)
  std::string value;          // records: the source record's bytes
};

// Rows of one partition handed to the sink writer as one write batch.
struct PendingRows {
  weir::v1::WriteBatch batch;                          // job, partition, epoch and rows; batch_id set by the writer
  std::chrono::steady_clock::time_point first_row_at;  // when its oldest row fired
  std::shared_ptr<PartitionCounters> counters;
  size_t bytes = 0;  // approximate, for the writer's memory bound
  // Where rows the store refuses for good go (set by the processing thread;
  // null: they are counted and logged only). Outlives the writer.
  DeadLetterOutput* dead_letters = nullptr;
  std::string dead_letter_topic;
};

class PartitionTask : private engine::RowSink {
 public:
  // `counters` may be null: the task makes its own.
  // `layout`: a re-keyed job's stages (job_runtime.h); the task is stage 1
  // or 2 by its partition.
  PartitionTask(std::shared_ptr<const JobRuntime> job, PartitionId partition, Epoch epoch,
                std::shared_ptr<PartitionCounters> counters = nullptr, RekeyLayout layout = {});
  // The same with plain integers, for tests written before the strong ids
  // (sink_writer_test.cc); new code uses the constructor above.
  PartitionTask(std::shared_ptr<const JobRuntime> job, int32_t partition, uint64_t epoch)
      : PartitionTask(std::move(job), PartitionId(partition), Epoch(epoch)) {}

  const std::shared_ptr<const JobRuntime>& job() const { return job_; }
  PartitionId partition() const { return partition_; }
  Epoch epoch() const { return epoch_; }
  const std::shared_ptr<PartitionCounters>& counters() const { return counters_; }
  const RekeyLayout& layout() const { return layout_; }
  // 0 for a job that is not re-keyed, else 1 or 2 (job_runtime.h RekeyLayout).
  int stage() const { return stage_; }
  // The partition of the topic this task reads: the source topic's, or for
  // stage 2 the repartition topic's.
  int32_t topic_partition() const { return stage_ == 2 ? partition_.value() - layout_.sources : partition_.value(); }

  // Decodes `records` (this partition's, in offset order) into one event
  // batch and runs it through the engine (PartitionEngine::ProcessBatch).
  // REQUIRES: offsets increase, across calls too.
  void OnRecords(std::span<const SourceRecord> records);
  // Decodes and processes one record. REQUIRES: offsets increase.
  void OnRecord(std::string_view value, std::string_view key, int64_t offset);
  // With an idle timeout in the spec: when no record came for that long (wall
  // clock), raises the watermark to now - max_out_of_orderness.
  void OnIdleCheck(int64_t now_ms);

  // Replaces the engine's state with a snapshot's and resumes at its offset.
  // On error (another partition's file, a corrupt or foreign engine state)
  // the task is left empty, as if new.
  Status Restore(const PartitionSnapshot& snapshot);
  // The state at this record boundary. Rows emitted so far must be handed on
  // (TakeRows) and acknowledged before the snapshot may be reported.
  PartitionSnapshot Snapshot(CheckpointId checkpoint) const;
  // Where a snapshot taken now resumes (Snapshot's next_offset), without
  // serializing the state.
  int64_t NextOffset() const;
  // Where consumption starts: an offset, or kOffsetBeginning/kOffsetEnd; set
  // by the job's `start` or a restore.
  KafkaOffset start_offset() const { return start_offset_; }
  void set_start_offset(KafkaOffset offset) { start_offset_ = offset; }

  // Moves the rows emitted since the last call into *out; false when none.
  bool TakeRows(PendingRows* out);
  // Moves the dead letters since the last call into *out (appended).
  void TakeDeadLetters(std::vector<DeadLetterRecord>* out);

  // Stage 1: queues a watermark marker for every repartition partition when
  // the watermark rose since the last markers and repartition.marker_interval
  // passed since them (wall clock `now_ms`); `force`: now, even if not.
  void MarkWatermark(int64_t now_ms, bool force = false);
  static constexpr int64_t kDefaultMarkerIntervalMs = 1000;
  // Stage 1: moves the messages for the repartition topic since the last
  // call into *out (appended).
  void TakeShuffle(std::vector<ShuffleMessage>* out);
  // Stage 1: the source partition's watermark (max event time seen minus
  // max_out_of_orderness, or the idle timeout's).
  int64_t stage1_watermark() const { return stage1_watermark_; }

  const engine::PartitionEngine& engine() const { return engine_; }
  // Counts changes to what a snapshot holds (records processed, the watermark
  // raised by the idle timeout): equal counts, equal snapshots.
  uint64_t changes() const { return changes_; }

 private:
  void OnRow(const engine::FeatureRow& row) override;
  void OnDeadLetter(engine::DeadLetterReason reason, const engine::Event& event, std::string_view detail) override;
  void AddDeadLetter(engine::DeadLetterReason reason, std::string_view detail, int64_t offset, std::string_view key,
                     std::string_view value);
  // After records up to `last_offset`: the figures the control loop reads.
  void Processed(size_t records, int64_t last_offset);
  // Decodes `r` into the batch, or makes it a dead letter.
  void Batch(const SourceRecord& r);
  // Runs the decoded batch through the engine; the batch's dead letters
  // start at `dead_before`, the first `decode_failures` of them raised
  // before the engine ran.
  void RunBatch(size_t dead_before, size_t decode_failures);
  // The stage-specific paths of OnRecords.
  void ShuffleRecords(std::span<const SourceRecord> records);
  void MergeRecords(std::span<const SourceRecord> records);
  // Stage 1: raises the watermark to `w` (never lowers it).
  void RaiseStage1Watermark(int64_t w);

  std::shared_ptr<const JobRuntime> job_;
  const PartitionId partition_;
  const Epoch epoch_;
  const RekeyLayout layout_;
  const int stage_;
  std::shared_ptr<PartitionCounters> counters_;
  decode::RecordDecoder decoder_;
  engine::PartitionEngine engine_;

  // The record being processed (OnRecord), for dead letters the engine raises.
  std::string_view record_value_;
  std::string_view record_key_;
  // The batch being processed (OnRecords): its events, and for each the
  // record it came from, so a late event's dead letter carries its record.
  decode::EventBatch batch_;
  std::vector<const SourceRecord*> batch_records_;
  int64_t last_record_ms_ = 0;  // wall clock, for the idle timeout
  KafkaOffset start_offset_ = kOffsetBeginning;
  uint64_t changes_ = 0;

  PendingRows rows_;
  size_t row_count_ = 0;
  std::vector<DeadLetterRecord> dead_letters_;

  // Stage 1.
  int64_t stage1_max_time_ = kMinTime;
  int64_t stage1_watermark_ = kMinTime;
  int64_t marked_watermark_ = kMinTime;  // carried by the last markers queued
  int64_t marked_at_ms_ = 0;             // wall clock when they were queued
  std::vector<ShuffleMessage> shuffle_;
  // Stage 2.
  std::unique_ptr<engine::RekeyMerge> merge_;
};

}  // namespace weir::worker
