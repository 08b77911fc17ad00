// Rewrites the broker addresses in Kafka responses, for weir-devkafka's
// relays with --advertise: librdkafka's mock brokers advertise 127.0.0.1,
// which clients on other hosts (Kubernetes pods) cannot reach, so Metadata
// and FindCoordinator responses are rewritten to name each broker at an
// address the relays serve, as a Kafka proxy does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace weir::devkafka {

// A big-endian int32 at `p` (frame sizes, correlation ids).
int32_t ReadInt32(const uint8_t* p);

// Where clients on other hosts find each broker: broker i (ids 1..count) at
// host:(base_port + i - 1).
struct AdvertisedBrokers {
  std::string host;
  int base_port = 0;
  int count = 0;

  bool Has(int32_t node_id) const { return node_id >= 1 && node_id <= count; }
  int32_t Port(int32_t node_id) const { return base_port + node_id - 1; }
};

// The request a response answers, as far as the rewriter cares.
struct Api {
  int16_t key = 0;
  int16_t version = 0;
};

// What a request frame's header says: [int32 size][int16 api_key]
// [int16 api_version][int32 correlation_id]. REQUIRES: 12 bytes at `frame`.
struct RequestHeader {
  Api api;
  int32_t correlation_id = 0;
};
RequestHeader ReadRequestHeader(const uint8_t* frame);

// Rewrites broker addresses in the responses that carry them and passes
// every other response through unchanged. Shared by all relays; used on the
// Asio thread only, so it needs no lock.
class ResponseRewriter {
 public:
  explicit ResponseRewriter(AdvertisedBrokers brokers) : brokers_(std::move(brokers)) {}

  // Whether responses to `api` requests carry broker addresses that
  // Rewrite() handles. Logs once per version, so one sees what clients use.
  bool Wants(const Api& api);

  // The response `frame` (size prefix included) to an `api` request that
  // Wants() accepted, with broker addresses rewritten; the frame unchanged
  // (logged once) when it does not parse, or when its size prefix is not
  // `size` - 4 (fewer than 4 bytes included).
  std::vector<uint8_t> Rewrite(const Api& api, const uint8_t* frame, size_t size);

  // Writes `message` to stderr the first time it is seen.
  void LogOnce(const std::string& message);

 private:
  const AdvertisedBrokers brokers_;
  std::set<std::string> logged_;
};

}  // namespace weir::devkafka
