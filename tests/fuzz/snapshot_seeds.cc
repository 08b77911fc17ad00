// Writes the snapshot fuzz target's seed corpus: engine states and snapshot
// files of the fuzz plan after the record-decoder seeds' streams, so the
// fuzzer starts from valid snapshots of every operator kind. Run it again
// (scripts/fuzz.sh --seeds) when the snapshot format changes.
//   weir_snapshot_seeds OUT_DIR STREAM.jsonl...
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>

#include "decode/record_decoder.h"
#include "engine/partition_engine.h"
#include "tests/fuzz/fuzz_plan.h"
#include "worker/snapshot_file.h"

namespace {

class NoRows : public weir::engine::RowSink {
 public:
  void OnRow(const weir::engine::FeatureRow&) override {}
  void OnDeadLetter(weir::engine::DeadLetterReason, const weir::engine::Event&, std::string_view) override {}
};

bool WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
  return out.good();
}

}  // namespace

int main(int argc, char** argv) {
  using namespace weir;  // NOLINT(google-build-using-namespace): a tool's main
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s OUT_DIR STREAM.jsonl...\n", argv[0]);
    return 2;
  }
  const std::string out_dir = argv[1];
  decode::RecordDecoder decoder(fuzz::FuzzPlan());
  for (int i = 2; i < argc; ++i) {
    std::ifstream in(argv[i]);
    NoRows rows;
    engine::PartitionEngine engine(fuzz::FuzzPlan(), &rows);
    std::string line;
    int64_t offset = 0;
    while (std::getline(in, line)) {
      engine::Event event;
      decode::DecodeError error;
      if (decoder.Decode(line, KafkaOffset(offset), &event, &error)) engine.Process(event);
      ++offset;
    }
    worker::PartitionSnapshot snapshot;
    snapshot.job = "fuzz";
    snapshot.partition = i;
    snapshot.epoch = 3;
    snapshot.checkpoint = 7;
    snapshot.next_offset = offset;
    snapshot.engine_state = engine.Snapshot();
    const std::string name = out_dir + "/seed" + std::to_string(i - 1);
    if (!WriteFile(name + ".state", snapshot.engine_state) ||
        !WriteFile(name + ".snap", worker::EncodeSnapshotFile(snapshot))) {
      std::fprintf(stderr, "cannot write %s\n", name.c_str());
      return 1;
    }
  }
  return 0;
}
