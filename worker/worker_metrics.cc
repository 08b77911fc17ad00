#include "worker/worker_metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <limits>
#include <set>

namespace weir::worker {

WorkerMetrics::WorkerMetrics(prometheus::Registry& r)
    : row_latency(prometheus::BuildHistogram()
                      .Name("weir_worker_row_ack_latency_seconds")
                      .Help("From a window firing (the watermark passing its end) to the store acknowledging the "
                            "row durable and readable, per job")
                      .Register(r)),
      sink_retries(prometheus::BuildCounter()
                       .Name("weir_worker_sink_retries_total")
                       .Help("Feature-store writes retried after a failure")
                       .Register(r)
                       .Add({})),
      fenced_batches(prometheus::BuildCounter()
                         .Name("weir_worker_sink_fenced_batches_total")
                         .Help("Write batches the store refused for a stale epoch")
                         .Register(r)
                         .Add({})),
      sink_refused_rows(prometheus::BuildCounter()
                            .Name("weir_worker_sink_refused_rows_total")
                            .Help("Rows the store refused for good (too large, invalid): sent to the job's dead-letter "
                                  "topic with reason sink_refused, never retried")
                            .Register(r)
                            .Add({})),
      sink_dropped_rows(prometheus::BuildCounter()
                            .Name("weir_worker_sink_dropped_rows_total")
                            .Help("Rows not yet written of partitions given up (job cancelled, partition moved): "
                                  "dropped, no longer retried")
                            .Register(r)
                            .Add({})),
      dead_letters_truncated(prometheus::BuildCounter()
                                 .Name("weir_worker_dead_letters_truncated_total")
                                 .Help("Dead letters larger than the topic's largest message, sent with their value "
                                       "truncated (header truncated = the original size)")
                                 .Register(r)
                                 .Add({})),
      dead_letter_delivery_errors(prometheus::BuildCounter()
                                      .Name("weir_worker_dead_letter_delivery_errors_total")
                                      .Help("Dead letters that could not be queued or delivered to their topic")
                                      .Register(r)
                                      .Add({})),
      pending_bytes(prometheus::BuildGauge()
                        .Name("weir_worker_sink_pending_bytes")
                        .Help("Rows waiting for the feature store, bytes (bounded: backpressure)")
                        .Register(r)),
      heartbeat_failures(prometheus::BuildCounter()
                             .Name("weir_worker_heartbeat_failures_total")
                             .Help("Heartbeats the coordinator did not answer")
                             .Register(r)
                             .Add({})),
      checkpoint_failures(prometheus::BuildCounter()
                              .Name("weir_worker_checkpoint_write_failures_total")
                              .Help("Snapshot files that could not be written (the checkpoint is abandoned)")
                              .Register(r)
                              .Add({})),
      restores(&r),
      records_in_(prometheus::BuildCounter()
                      .Name("weir_worker_records_in_total")
                      .Help("Records consumed, per partition (dead letters included)")
                      .Register(r)),
      rows_out_(prometheus::BuildCounter()
                    .Name("weir_worker_rows_out_total")
                    .Help("Feature rows acknowledged by the feature store, per partition")
                    .Register(r)),
      dead_letters_(prometheus::BuildCounter()
                        .Name("weir_worker_dead_letters_total")
                        .Help("Records sent to the dead-letter topic, per partition and reason")
                        .Register(r)),
      skipped_(prometheus::BuildCounter()
                   .Name("weir_worker_records_skipped_total")
                   .Help("Records Kafka no longer had when the partition reached them, skipped "
                         "(source.on_offset_gap: skip), per partition")
                   .Register(r)),
      shuffled_(prometheus::BuildCounter()
                    .Name("weir_worker_records_shuffled_total")
                    .Help("Re-keyed jobs, stage 1: records written to the repartition topic, per partition")
                    .Register(r)),
      shuffled_bytes_(prometheus::BuildCounter()
                          .Name("weir_worker_bytes_shuffled_total")
                          .Help("Re-keyed jobs, stage 1: bytes (keys and values) written to the repartition topic, "
                                "per partition")
                          .Register(r)),
      duplicates_(prometheus::BuildCounter()
                      .Name("weir_worker_duplicates_dropped_total")
                      .Help("Re-keyed jobs, stage 2: copies of source records dropped by source offset (a stage-1 "
                            "replay after a failure, or a zombie), per partition")
                      .Register(r)),
      watermark_(prometheus::BuildGauge()
                     .Name("weir_worker_watermark_ms")
                     .Help("Event-time watermark per partition, ms since the Unix epoch (absent before any record)")
                     .Register(r)),
      lag_(prometheus::BuildGauge()
               .Name("weir_worker_consumer_lag")
               .Help("Records between the partition's end and the next offset to read (-1 unknown)")
               .Register(r)),
      keys_(prometheus::BuildGauge()
                .Name("weir_worker_partition_keys")
                .Help("Keys holding window state, per partition")
                .Register(r)),
      state_bytes_(prometheus::BuildGauge()
                       .Name("weir_worker_partition_state_bytes")
                       .Help("Approximate bytes of window state and key table, per partition (measured at most "
                             "every 5 s while it changes)")
                       .Register(r)),
      state_(prometheus::BuildGauge()
                 .Name("weir_worker_partition_state")
                 .Help("1 for the state each assigned partition is in (starting, restoring, running, paused, "
                       "failed, fenced), 0 for the others")
                 .Register(r)),
      partitions_(prometheus::BuildGauge()
                      .Name("weir_worker_partitions")
                      .Help("Partitions assigned to this worker")
                      .Register(r)
                      .Add({})) {}

WorkerMetrics::~WorkerMetrics() = default;

WorkerMetrics::PartitionSeries& WorkerMetrics::SeriesFor(const PartitionCounters& c) {
  const Key key(c.job, c.partition);
  auto it = series_.find(key);
  if (it != series_.end()) return it->second;
  const std::map<std::string, std::string> labels = {{"job", c.job},
                                                     {"partition", std::to_string(c.partition.value())}};
  PartitionSeries s;
  s.records_in = &records_in_.Add(labels);
  s.rows_out = &rows_out_.Add(labels);
  for (size_t r = 0; r < engine::kDeadLetterReasons; ++r) {
    auto l = labels;
    l["reason"] = engine::DeadLetterReasonName(static_cast<engine::DeadLetterReason>(r));
    s.dead_letters[r] = &dead_letters_.Add(l);
  }
  s.skipped = &skipped_.Add(labels);
  s.shuffled = &shuffled_.Add(labels);
  s.shuffled_bytes = &shuffled_bytes_.Add(labels);
  s.duplicates = &duplicates_.Add(labels);
  s.watermark = &watermark_.Add(labels);
  s.lag = &lag_.Add(labels);
  s.keys = &keys_.Add(labels);
  s.state_bytes = &state_bytes_.Add(labels);
  for (size_t i = 0; i < kPartitionStates.size(); ++i) {
    auto l = labels;
    l["state"] = PartitionStateName(kPartitionStates[i]);
    s.state[i] = &state_.Add(l);
  }
  return series_.emplace(key, s).first->second;
}

void WorkerMetrics::Update(const std::shared_ptr<PartitionCounters>& counters) {
  const PartitionCounters& c = *counters;
  PartitionSeries& s = SeriesFor(c);
  if (s.counters.lock() != counters) {  // (re)started (new epoch or spec): its counters begin at zero
    s.counters = counters;
    s.last_records_in = s.last_rows_out = s.last_skipped = 0;
    s.last_shuffled = s.last_shuffled_bytes = s.last_duplicates = 0;
    s.last_dead = {};
  }
  auto advance = [](prometheus::Counter* counter, int64_t now, int64_t* last) {
    if (now > *last) counter->Increment(static_cast<double>(now - *last));
    *last = now;
  };
  advance(s.records_in, c.records_in.load(), &s.last_records_in);
  advance(s.rows_out, c.rows_acked.load(), &s.last_rows_out);
  advance(s.skipped, c.records_skipped.load(), &s.last_skipped);
  advance(s.shuffled, c.records_shuffled.load(), &s.last_shuffled);
  advance(s.shuffled_bytes, c.bytes_shuffled.load(), &s.last_shuffled_bytes);
  advance(s.duplicates, c.duplicates_dropped.load(), &s.last_duplicates);
  for (size_t r = 0; r < engine::kDeadLetterReasons; ++r) {
    advance(s.dead_letters[r], c.dead_letters[r].load(), &s.last_dead[r]);
  }
  const int64_t w = c.watermark.load();
  s.watermark->Set(w == kMinTime ? std::numeric_limits<double>::quiet_NaN() : static_cast<double>(w));
  s.lag->Set(static_cast<double>(c.lag()));
  s.keys->Set(static_cast<double>(c.keys.load()));
  s.state_bytes->Set(static_cast<double>(c.state_bytes.load()));
  const PartitionState state = c.fenced.load() ? weir::v1::PARTITION_STATE_FENCED : c.state().state;
  for (size_t i = 0; i < kPartitionStates.size(); ++i) s.state[i]->Set(kPartitionStates[i] == state ? 1 : 0);
}

void WorkerMetrics::Remove(std::map<Key, PartitionSeries>::iterator it) {
  records_in_.Remove(it->second.records_in);
  rows_out_.Remove(it->second.rows_out);
  skipped_.Remove(it->second.skipped);
  shuffled_.Remove(it->second.shuffled);
  shuffled_bytes_.Remove(it->second.shuffled_bytes);
  duplicates_.Remove(it->second.duplicates);
  for (auto* d : it->second.dead_letters) dead_letters_.Remove(d);
  watermark_.Remove(it->second.watermark);
  lag_.Remove(it->second.lag);
  keys_.Remove(it->second.keys);
  state_bytes_.Remove(it->second.state_bytes);
  for (auto* s : it->second.state) state_.Remove(s);
  series_.erase(it);
}

void WorkerMetrics::Sync(const std::vector<std::shared_ptr<PartitionCounters>>& partitions) {
  std::set<Key> assigned;
  for (const auto& c : partitions) {
    Update(c);
    assigned.emplace(c->job, c->partition);
  }
  for (auto it = series_.begin(); it != series_.end();) {
    auto current = it++;
    if (assigned.count(current->first) == 0) Remove(current);
  }
  partitions_.Set(static_cast<double>(partitions.size()));
}

}  // namespace weir::worker
