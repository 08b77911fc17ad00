// Fuzzes weir-devkafka's response rewriter with the frames a broker (or
// anything pretending to be one) might send. Input: [int16 api key][int16 api
// version][response frame]. Invariants: never a crash or a read past the
// frame; the output is the input unchanged, or a frame whose size prefix is
// its length.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "tests/fuzz/fuzz_plan.h"
#include "tools/devkafka/kafka_rewrite.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace weir;  // NOLINT(google-build-using-namespace): a fuzz entry point
  if (size < 4) return 0;
  static devkafka::ResponseRewriter rewriter(devkafka::AdvertisedBrokers{"adv.example", 9092, 3});
  const devkafka::Api api{static_cast<int16_t>((data[0] << 8) | data[1]),
                          static_cast<int16_t>((data[2] << 8) | data[3])};
  if (!rewriter.Wants(api)) return 0;
  // A copy of exactly the frame's bytes, so ASan sees any read past it.
  const std::vector<uint8_t> frame(data + 4, data + size);
  const std::vector<uint8_t> out = rewriter.Rewrite(api, frame.data(), frame.size());
  if (out == frame) return 0;
  fuzz::Require(out.size() >= 4, "a rewritten frame has a size prefix");
  fuzz::Require(static_cast<size_t>(devkafka::ReadInt32(out.data())) + 4 == out.size(),
                "a rewritten frame's size prefix is its length");
  return 0;
}
