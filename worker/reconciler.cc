#include "worker/reconciler.h"

#include <spdlog/spdlog.h>

namespace weir::worker {

Reconciler::Reconciler(std::vector<ProcessingThread*> threads, OutputDirectory* outputs, CheckpointWriter* checkpoints,
                       Clock now)
    : threads_(std::move(threads)), outputs_(outputs), checkpoints_(checkpoints), now_(std::move(now)) {}

void Reconciler::Stop(std::map<Key, Assigned>::iterator it) {
  if (it->second.thread != nullptr) it->second.thread->Remove(it->first.first, it->first.second);
  partitions_.erase(it);
}

void Reconciler::Reconcile(const std::vector<weir::v1::Assignment>& assigned, const JobCatalog& jobs) {
  std::map<Key, const weir::v1::Assignment*> desired;
  for (const weir::v1::Assignment& a : assigned) desired[{a.job(), PartitionId(a.partition())}] = &a;

  // Stop what was lost, moved to a new epoch, or whose spec changed. A fenced
  // partition its thread already stopped stays, reported, at its epoch.
  for (auto it = partitions_.begin(); it != partitions_.end();) {
    auto current = it++;
    Assigned& p = current->second;
    if (p.counters->fenced.load()) p.thread = nullptr;  // the thread stops it itself
    auto want = desired.find(current->first);
    const HeldJob* held = jobs.Find(current->first.first);
    const uint64_t hash = held == nullptr ? 0 : held->spec_hash;
    if (want == desired.end() || Epoch(want->second->epoch()) != p.epoch || hash != p.spec_hash) Stop(current);
  }

  const auto now = now_();
  for (const auto& [key, a] : desired) {
    auto it = partitions_.find(key);
    if (it == partitions_.end()) {
      Take(key, *a, jobs.Find(key.first));
    } else if (it->second.thread == nullptr && it->second.job != nullptr && !it->second.counters->fenced.load() &&
               it->second.retry_at <= now) {
      Grant(key, it->second);
    }
  }
}

void Reconciler::Take(const Key& key, const weir::v1::Assignment& a, const HeldJob* held) {
  Assigned p;
  p.epoch = Epoch(a.epoch());
  p.counters = std::make_shared<PartitionCounters>(key.first, key.second, p.epoch);
  p.restore_from.assign(a.restore_from().begin(), a.restore_from().end());
  p.layout = RekeyLayout{a.source_partitions(), a.repartition_partitions()};
  if (held == nullptr) {
    // The coordinator sends the spec in the next reply (this request did not list the job).
    p.counters->SetState(weir::v1::PARTITION_STATE_STARTING, "waiting for the job's spec from the coordinator");
  } else if (held->runtime == nullptr) {
    p.spec_hash = held->spec_hash;
    p.counters->SetState(weir::v1::PARTITION_STATE_FAILED,
                         "the job's spec does not compile on this worker: " + held->error +
                             " (fix the spec and submit it again with weirctl submit)");
  } else {
    p.spec_hash = held->spec_hash;
    p.job = held->runtime;
  }
  Assigned& stored = partitions_.emplace(key, std::move(p)).first->second;
  if (stored.job != nullptr) Grant(key, stored);
}

void Reconciler::Grant(const Key& key, Assigned& p) {
  auto dead_letters = outputs_->DeadLettersTo(p.job->spec.source().kafka());
  if (!dead_letters.ok()) {
    const auto delay = p.backoff.Failed();
    p.retry_at = now_() + delay;
    p.counters->SetState(weir::v1::PARTITION_STATE_FAILED, dead_letters.status().message());
    spdlog::error("job {} partition {}: {} (retrying in {} ms)", key.first, key.second.value(),
                  dead_letters.status().message(), delay.count());
    return;
  }
  p.backoff.Succeeded();
  ProcessingThread* thread = threads_.front();
  for (ProcessingThread* t : threads_) {
    if (t->load() < thread->load()) thread = t;
  }
  PartitionGrant grant{p.job,         key.second, p.epoch,      outputs_->RowsTo(p.job->sink_address),
                       *dead_letters, p.counters, checkpoints_, p.restore_from,
                       p.layout};
  thread->Add(std::move(grant));
  p.thread = thread;
}

void Reconciler::RequestCheckpoint(const std::string& job, CheckpointId id) {
  for (auto& [key, p] : partitions_) {
    if (key.first != job || p.thread == nullptr || p.counters->checkpoint_requested >= id) continue;
    p.counters->checkpoint_requested = id;
    p.thread->Checkpoint(job, key.second, id);
  }
}

void Reconciler::Report(const std::string& owner, weir::v1::HeartbeatRequest* request) const {
  for (const auto& [key, p] : partitions_) {
    PartitionCounters& c = *p.counters;
    weir::v1::PartitionStatus* s = request->add_partitions();
    s->set_job(c.job);
    s->set_partition(c.partition.value());
    s->set_owner(owner);
    s->set_epoch(c.epoch.value());
    s->set_offset(c.next_offset.load());
    s->set_watermark(c.watermark.load());
    s->set_lag(c.lag());
    s->set_rows_out(c.rows_acked.load());
    s->set_records_in(c.records_in.load());
    s->set_dead_letters(c.dead_letters_total());
    s->set_records_skipped(c.records_skipped.load());
    s->set_records_shuffled(c.records_shuffled.load());
    s->set_duplicates_dropped(c.duplicates_dropped.load());
    if (const int64_t conflicts = c.key_conflicts.load(); conflicts > 0) {
      s->set_key_conflicts(conflicts);
      s->set_key_conflict(c.KeyConflict());
    }
    if (auto snapshot = c.ReportableSnapshot()) *s->mutable_snapshot() = *snapshot;
    PartitionCounters::StateReport state = c.state();
    if (c.fenced.load() && state.state != weir::v1::PARTITION_STATE_FENCED) {
      state.state = weir::v1::PARTITION_STATE_FENCED;  // its thread is stopping it
      state.reason = "the feature store refused this epoch's writes: a newer owner of the partition exists";
    }
    s->set_state(state.state);
    s->set_state_reason(std::move(state.reason));
    if (state.restored) *s->mutable_restored() = std::move(*state.restored);
  }
}

std::vector<std::shared_ptr<PartitionCounters>> Reconciler::Counters() const {
  std::vector<std::shared_ptr<PartitionCounters>> out;
  out.reserve(partitions_.size());
  for (const auto& [key, p] : partitions_) out.push_back(p.counters);
  return out;
}

size_t Reconciler::running() const {
  size_t n = 0;
  for (const auto& [key, p] : partitions_) n += p.thread != nullptr ? 1 : 0;
  return n;
}

}  // namespace weir::worker
