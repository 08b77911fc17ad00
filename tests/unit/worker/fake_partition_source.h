// In-memory stand-ins for what a processing thread talks to, so its threads
// and the worker's reconcile logic are tested without Kafka, a feature store
// or a wall clock:
//   FakeTopics   the records of every job's topic, appended by the test;
//   FakeSources  a PartitionSourceFactory over FakeTopics whose creations,
//                assignments and read problems the test can make fail;
//   FakeRows / FakeDeadLetters   outputs that keep what they get (FakeRows
//                can be made full);
//   FakeClock    a steady clock the test moves.
#pragma once

#include <absl/base/thread_annotations.h>
#include "common/mutex.h"

#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "worker/partition_outputs.h"
#include "worker/partition_source.h"

namespace weir::worker::testing {

class FakeClock {
 public:
  std::chrono::steady_clock::time_point Now() const {
    return std::chrono::steady_clock::time_point(std::chrono::milliseconds(ms_.load()));
  }
  void Advance(std::chrono::milliseconds d) { ms_.fetch_add(d.count()); }
  std::function<std::chrono::steady_clock::time_point()> Function() {
    return [this] { return Now(); };
  }

 private:
  std::atomic<int64_t> ms_{1'000'000};
};

// Every topic's records, by (topic, partition); offsets count from 0.
class FakeTopics {
 public:
  void Append(const std::string& topic, PartitionId partition, std::string key, std::string value) {
    weir::MutexLock lock(&mu_);
    auto& records = topics_[{topic, partition}];
    records.push_back(Record{std::move(key), std::move(value)});
  }
  size_t size(const std::string& topic, PartitionId partition) {
    weir::MutexLock lock(&mu_);
    return topics_[{topic, partition}].size();
  }

  struct Record {
    std::string key;
    std::string value;
  };
  // The record at `offset`, or null; the pointer stays valid (a deque only grows).
  const Record* At(const std::string& topic, PartitionId partition, int64_t offset) {
    weir::MutexLock lock(&mu_);
    auto& records = topics_[{topic, partition}];
    return offset >= 0 && offset < static_cast<int64_t>(records.size()) ? &records[static_cast<size_t>(offset)]
                                                                        : nullptr;
  }

 private:
  weir::Mutex mu_;
  std::map<std::pair<std::string, PartitionId>, std::deque<Record>> topics_ ABSL_GUARDED_BY(mu_);
};

// What the test controls of the sources, and what they did.
class FakeSources {
 public:
  explicit FakeSources(FakeTopics* topics) : topics_(topics) {}

  PartitionSourceFactory Factory();

  std::atomic<int> create_failures{0};  // the next n creations fail
  std::atomic<int> assign_failures{0};  // the next n assignments fail
  std::atomic<int> creates{0};          // creation attempts
  std::atomic<int> assigns{0};          // assignment attempts
  // While set, every source (made before or since) is refused by the
  // brokers' security for good, as a client with a wrong password is: it
  // reads nothing and wants a new client.
  std::atomic<bool> refuse{false};

  // A read problem of (topic, partition); empty: none.
  void SetProblem(const std::string& topic, PartitionId partition, std::string problem) {
    weir::MutexLock lock(&mu_);
    problems_[{topic, partition}] = std::move(problem);
  }
  std::string Problem(const std::string& topic, PartitionId partition) {
    weir::MutexLock lock(&mu_);
    return problems_[{topic, partition}];
  }
  bool paused(const std::string& topic, PartitionId partition) {
    weir::MutexLock lock(&mu_);
    return paused_.count({topic, partition}) != 0;
  }
  void SetPaused(const std::string& topic, PartitionId partition, bool paused) {
    weir::MutexLock lock(&mu_);
    if (paused) {
      paused_.insert({topic, partition});
    } else {
      paused_.erase({topic, partition});
    }
  }

  FakeTopics* topics() const { return topics_; }

 private:
  FakeTopics* topics_;
  weir::Mutex mu_;
  std::map<std::pair<std::string, PartitionId>, std::string> problems_ ABSL_GUARDED_BY(mu_);
  std::set<std::pair<std::string, PartitionId>> paused_ ABSL_GUARDED_BY(mu_);
};

class FakeSource final : public PartitionSource {
 public:
  FakeSource(FakeSources* control, std::string topic) : control_(control), topic_(std::move(topic)) {}
  ~FakeSource() override {
    for (const auto& [partition, next] : next_) control_->SetPaused(topic_, partition, false);
  }

  Status Assign(PartitionId partition, KafkaOffset offset) override {
    control_->assigns.fetch_add(1);
    if (control_->assign_failures.load() > 0) {
      control_->assign_failures.fetch_sub(1);
      return Unavailable("Kafka refused to assign topic \"" + topic_ + "\" partition " +
                         std::to_string(partition.value()) + ": fake broker says no");
    }
    next_[partition] = offset == kOffsetEnd ? static_cast<int64_t>(control_->topics()->size(topic_, partition))
                                            : std::max<int64_t>(0, offset.value());
    return Status::Ok();
  }
  void Unassign(PartitionId partition) override {
    next_.erase(partition);
    control_->SetPaused(topic_, partition, false);
  }
  void Poll(const PollLimits& limits, std::vector<SourceRecord>* out) override {
    refused_ = refused_ || control_->refuse.load();
    if (refused_) return;
    size_t n = 0;
    for (auto& [partition, next] : next_) {
      if (control_->paused(topic_, partition)) continue;
      while (n < limits.max_records) {
        const FakeTopics::Record* r = control_->topics()->At(topic_, partition, next);
        if (r == nullptr) break;
        out->push_back(SourceRecord{partition, KafkaOffset(next), r->key, r->value, {}});
        ++next;
        ++n;
      }
    }
    if (n == 0 && limits.first_wait.count() > 0) {
      // As a broker would: nothing came within the wait (kept short, so the
      // thread's loop turns).
      absl::SleepFor(absl::Milliseconds(1));
    }
  }
  void Pause(PartitionId partition) override { control_->SetPaused(topic_, partition, true); }
  void Resume(PartitionId partition) override { control_->SetPaused(topic_, partition, false); }
  std::optional<KafkaOffset> EndOffset(PartitionId partition) override {
    return KafkaOffset(static_cast<int64_t>(control_->topics()->size(topic_, partition)));
  }
  std::string Problem(PartitionId partition) override {
    if (refused_) return "SASL authentication error: Authentication failed: Invalid username or password";
    return control_->Problem(topic_, partition);
  }
  bool WantsNewClient() override { return refused_; }
  bool ProvenReadable(PartitionId partition) override { return !refused_ && next_.count(partition) != 0; }

 private:
  FakeSources* control_;
  const std::string topic_;
  bool refused_ = false;
  std::map<PartitionId, int64_t> next_;  // assigned partitions, next offset
};

inline PartitionSourceFactory FakeSources::Factory() {
  return [this](const JobRuntime& job) -> Result<std::unique_ptr<PartitionSource>> {
    creates.fetch_add(1);
    if (create_failures.load() > 0) {
      create_failures.fetch_sub(1);
      return Unavailable("cannot create a Kafka consumer for brokers " + job.spec.source().kafka().brokers() +
                         ": fake creation failure");
    }
    return std::unique_ptr<PartitionSource>(std::make_unique<FakeSource>(this, job.spec.source().kafka().topic()));
  };
}

// Rows as a feature store's writer gets them; full on demand.
class FakeRows final : public RowOutput {
 public:
  explicit FakeRows(std::string address = "fake-store") : address_(std::move(address)) {}

  void Enqueue(PendingRows rows) override {
    weir::MutexLock lock(&mu_);
    for (const auto& row : rows.batch.rows()) rows_.push_back(row);
  }
  void Drop(const std::string&, int32_t) override {}
  bool HasRoom(const std::string&) const override { return !full_.load(); }
  const std::string& address() const override { return address_; }
  size_t pending_bytes(const std::string&) const override { return full_.load() ? 64 << 20 : 0; }

  void SetFull(bool full) { full_.store(full); }
  std::vector<weir::v1::FeatureRow> rows() {
    weir::MutexLock lock(&mu_);
    return rows_;
  }
  size_t count() {
    weir::MutexLock lock(&mu_);
    return rows_.size();
  }

 private:
  const std::string address_;
  std::atomic<bool> full_{false};
  weir::Mutex mu_;
  std::vector<weir::v1::FeatureRow> rows_ ABSL_GUARDED_BY(mu_);
};

// Dead letters as a producer gets them. While full, Produce waits (as
// librdkafka's does with a full queue) and TryProduce refuses.
class FakeDeadLetters final : public DeadLetterOutput {
 public:
  void Produce(const std::string&, const std::string&, const DeadLetterRecord& record) override {
    weir::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](bool* full) { return !*full; }, &full_));
    records_.push_back(record);
  }
  bool TryProduce(const std::string&, const std::string&, const DeadLetterRecord& record) override {
    weir::MutexLock lock(&mu_);
    if (full_) return false;
    records_.push_back(record);
    return true;
  }
  void SetFull(bool full) {
    weir::MutexLock lock(&mu_);
    full_ = full;
  }
  void Poll() override {}
  size_t count() {
    weir::MutexLock lock(&mu_);
    return records_.size();
  }
  std::vector<DeadLetterRecord> records() {
    weir::MutexLock lock(&mu_);
    return records_;
  }

 private:
  weir::Mutex mu_;
  std::vector<DeadLetterRecord> records_ ABSL_GUARDED_BY(mu_);
  bool full_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace weir::worker::testing
