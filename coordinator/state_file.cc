#include "coordinator/state_file.h"

#include <utility>

namespace weir::coordinator {

StateFile::StateFile(std::string path, FileWriter writer, uint64_t durable_version)
    : path_(std::move(path)), writer_(OrDurable(std::move(writer))), durable_(durable_version) {}

void StateFile::Offer(uint64_t version, std::string bytes) {
  auto shared = std::make_shared<const std::string>(std::move(bytes));
  absl::MutexLock lock(&slot_mu_);
  if (version <= offered_.version) return;
  offered_ = Offered{version, std::move(shared)};
}

Status StateFile::Sync(uint64_t version) {
  if (durable_.load() >= version) return Status::Ok();
  absl::MutexLock write(&write_mu_);
  if (durable_.load() >= version) return Status::Ok();  // a write that finished meanwhile covered it
  Offered newest;
  {
    absl::MutexLock lock(&slot_mu_);
    newest = offered_;
  }
  if (newest.bytes == nullptr || newest.version < version) {
    return Internal("coordinator state version " + std::to_string(version) + " was never offered for \"" + path_ +
                    "\" (a bug)");
  }
  if (Status s = writer_(path_, *newest.bytes); !s.ok()) {
    return Internal(
        "cannot write the coordinator state (the change is kept in memory and written by the next "
        "successful write; check the data directory's disk and permissions): " +
        s.message());
  }
  durable_.store(newest.version);
  return Status::Ok();
}

}  // namespace weir::coordinator
