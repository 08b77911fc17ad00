#include "coordinator/event_log.h"

#include <algorithm>
#include <utility>

namespace weir::coordinator {

EventLog::EventLog(size_t capacity) : capacity_(std::max<size_t>(capacity, 1)) {}

uint64_t EventLog::Append(weir::v1::ClusterEvent event, int64_t now_ms) {
  weir::MutexLock lock(&mu_);
  event.set_seq(++last_seq_);
  event.set_at_ms(now_ms);
  events_.push_back(std::move(event));
  if (events_.size() > capacity_) events_.pop_front();
  return last_seq_;
}

EventPage EventLog::List(const std::string& job, uint64_t after_seq, size_t limit) const {
  EventPage page;
  weir::MutexLock lock(&mu_);
  page.last_seq = last_seq_;
  if (events_.empty() || after_seq >= last_seq_) return page;
  // Seqs are consecutive: the first event after `after_seq` is found by arithmetic.
  const uint64_t first_seq = events_.front().seq();
  const size_t start = after_seq < first_seq ? 0 : static_cast<size_t>(after_seq - first_seq + 1);
  std::vector<const weir::v1::ClusterEvent*> matching;
  for (size_t i = start; i < events_.size(); ++i) {
    if (job.empty() || events_[i].job() == job) matching.push_back(&events_[i]);
  }
  const size_t skip = limit > 0 && matching.size() > limit ? matching.size() - limit : 0;
  page.events.reserve(matching.size() - skip);
  for (size_t i = skip; i < matching.size(); ++i) page.events.push_back(*matching[i]);
  return page;
}

}  // namespace weir::coordinator
