// Fuzzes the snapshot readers: the worker's snapshot file (header, offsets,
// checksum) and the engine state inside it. Input: the bytes of a file, or of
// an engine state. Both carry an XXH64 checksum, which random mutations
// almost never keep valid, so the input is also tried with its last 8 bytes
// replaced by the checksum of the rest ("resealed"): that reaches the state
// parser behind the checksum. Invariants: corrupt input is an error, never a
// crash; what restores snapshots again to the same bytes, and the engine
// stays usable.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <xxhash.h>

#include "common/byte_codec.h"
#include "engine/partition_engine.h"
#include "tests/fuzz/fuzz_plan.h"
#include "worker/snapshot_file.h"

namespace {

class NoRows : public weir::engine::RowSink {
 public:
  void OnRow(const weir::engine::FeatureRow&) override {}
  void OnDeadLetter(weir::engine::DeadLetterReason, const weir::engine::Event&, std::string_view) override {}
};

// Restores `state` into a fresh engine of the fuzz plan and checks the invariants.
void CheckEngineState(std::string_view state) {
  using namespace weir;  // NOLINT(google-build-using-namespace): fuzz code
  NoRows rows;
  engine::PartitionEngine engine(fuzz::FuzzPlan(), &rows);
  if (!engine.Restore(state).ok()) {
    fuzz::Require(engine.Snapshot() == engine::PartitionEngine(fuzz::FuzzPlan(), &rows).Snapshot(),
                  "a failed restore leaves the engine empty");
    return;
  }
  const std::string again = engine.Snapshot();
  engine::PartitionEngine second(fuzz::FuzzPlan(), &rows);
  fuzz::Require(second.Restore(again).ok(), "a restored engine's snapshot restores");
  fuzz::Require(second.Snapshot() == again, "snapshots are stable across restores");
  engine.AdvanceWatermark(kMaxTime);  // fires whatever the state holds
}

// `bytes` with its last 8 bytes replaced by the XXH64 of the rest. REQUIRES: bytes.size() >= 8.
std::string Reseal(std::string_view bytes) {
  const std::string_view body = bytes.substr(0, bytes.size() - 8);
  weir::ByteWriter w;
  w.PutRaw(body);
  w.Put<uint64_t>(XXH64(body.data(), body.size(), 0));
  return w.Take();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace weir;  // NOLINT(google-build-using-namespace): a fuzz entry point
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto file = worker::DecodeSnapshotFile(bytes);
  if (file.ok()) {
    fuzz::Require(worker::EncodeSnapshotFile(*file) == bytes, "a snapshot file re-encodes to its bytes");
    CheckEngineState(file->engine_state);
  }
  CheckEngineState(bytes);  // the engine state on its own
  if (bytes.size() >= 8) {
    const std::string sealed = Reseal(bytes);
    auto sealed_file = worker::DecodeSnapshotFile(sealed);
    if (sealed_file.ok() && sealed_file->engine_state.size() >= 8) CheckEngineState(Reseal(sealed_file->engine_state));
    CheckEngineState(sealed);
  }
  return 0;
}
