#include "daemon/periodic.h"

#include <utility>

namespace weir {

Periodic::Periodic(std::chrono::milliseconds interval, std::function<void()> work)
    : work_(std::move(work)), thread_([this, interval] {
        std::unique_lock<std::mutex> lock(mu_);
        while (!cv_.wait_for(lock, interval, [this] { return stopping_; })) {
          lock.unlock();
          work_();
          lock.lock();
        }
      }) {}

Periodic::~Periodic() { Stop(); }

void Periodic::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace weir
