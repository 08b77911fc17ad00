#include "tools/devkafka/kafka_rewrite.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace weir::devkafka {
namespace {

std::vector<uint8_t> FromHex(const std::string& hex) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

struct Case {
  Api api;
  std::vector<uint8_t> input;
  std::vector<uint8_t> expected;
};

// rewrite_cases.txt, written by gen_rewrite_cases.py (an encoder of its own).
std::vector<Case> LoadCases() {
  std::ifstream in(WEIR_REWRITE_CASES);
  REQUIRE(in.good());
  std::vector<Case> cases;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    int key = 0;
    int version = 0;
    std::string input;
    std::string expected;
    fields >> key >> version >> input >> expected;
    cases.push_back({Api{static_cast<int16_t>(key), static_cast<int16_t>(version)}, FromHex(input), FromHex(expected)});
  }
  return cases;
}

TEST_CASE("every Metadata and FindCoordinator version gets brokers 1..3 at the advertised addresses") {
  ResponseRewriter rewriter(AdvertisedBrokers{"adv.example", 9092, 3});
  const std::vector<Case> cases = LoadCases();
  REQUIRE(cases.size() == 25);
  int metadata_versions = 0;
  int coordinator_versions = 0;
  for (const Case& c : cases) {
    INFO("api key " << c.api.key << " v" << c.api.version << ", " << c.input.size() << " bytes");
    REQUIRE(rewriter.Wants(c.api));
    CHECK(rewriter.Rewrite(c.api, c.input.data(), c.input.size()) == c.expected);
    (c.api.key == 3 ? metadata_versions : coordinator_versions) += 1;
  }
  CHECK(metadata_versions == 13 + 1);        // v0..12 and one truncated frame
  CHECK(coordinator_versions == 2 * 5 + 1);  // v0..4 with a coordinator and without, one truncated
}

TEST_CASE("a truncated response passes through unchanged") {
  ResponseRewriter rewriter(AdvertisedBrokers{"adv.example", 9092, 3});
  const std::vector<Case> cases = LoadCases();
  const Case& whole = cases[1];  // Metadata v1
  std::vector<uint8_t> cut(whole.input.begin(), whole.input.begin() + 20);
  cut[3] = 16;  // the size prefix matches the bytes that follow
  CHECK(rewriter.Rewrite(whole.api, cut.data(), cut.size()) == cut);
}

TEST_CASE("only Metadata and FindCoordinator responses of known versions are rewritten") {
  ResponseRewriter rewriter(AdvertisedBrokers{"adv.example", 9092, 1});
  CHECK(rewriter.Wants(Api{3, 0}));
  CHECK(rewriter.Wants(Api{3, 12}));
  CHECK_FALSE(rewriter.Wants(Api{3, 13}));
  CHECK(rewriter.Wants(Api{10, 4}));
  CHECK_FALSE(rewriter.Wants(Api{10, 5}));
  CHECK_FALSE(rewriter.Wants(Api{0, 7}));   // Produce
  CHECK_FALSE(rewriter.Wants(Api{1, 11}));  // Fetch
  CHECK_FALSE(rewriter.Wants(Api{18, 3}));  // ApiVersions
}

TEST_CASE("a frame shorter than its size prefix, or than the prefix itself, passes unchanged") {
  // Found by the devkafka_rewrite fuzz target: a 1-byte frame was read as 4 GiB.
  ResponseRewriter rewriter(AdvertisedBrokers{"adv.example", 9092, 1});
  const std::vector<uint8_t> tiny = {0x0a};
  CHECK(rewriter.Rewrite(Api{10, 0}, tiny.data(), tiny.size()) == tiny);
  const std::vector<uint8_t> lying = {0x00, 0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0x01};  // says 32 bytes follow
  CHECK(rewriter.Rewrite(Api{3, 1}, lying.data(), lying.size()) == lying);
}

TEST_CASE("a request header gives the api, version and correlation id") {
  const uint8_t request[] = {0, 0, 0, 8, 0, 3, 0, 9, 0x12, 0x34, 0x56, 0x78};
  const RequestHeader header = ReadRequestHeader(request);
  CHECK(header.api.key == 3);
  CHECK(header.api.version == 9);
  CHECK(header.correlation_id == 0x12345678);
}

TEST_CASE("ReadInt32 is big-endian and signed") {
  const uint8_t bytes[] = {0x00, 0x00, 0x01, 0x02, 0xff, 0xff, 0xff, 0xff};
  CHECK(ReadInt32(bytes) == 258);
  CHECK(ReadInt32(bytes + 4) == -1);
}

}  // namespace
}  // namespace weir::devkafka
