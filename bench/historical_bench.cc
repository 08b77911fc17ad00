// weir_historical_bench: the point-in-time join (RowStore::GetHistorical)
// against a baseline of one as_of read per entity row, in one run.
//
// A RowStore in a scratch directory holds --keys keys x --features features
// x --windows one-minute windows (each available 5 s after its end, a third
// corrected 40 s later). --entity-rows entity rows (key, timestamp) in random
// order, over the keys and the stored time range, are joined in batches of
// --batch rows on this thread, sorted by key first as the SDK sends them;
// timed by this thread's CPU time (and wall time, printed too).
// Baseline: the same entity rows, one GetOnline(key, features, as_of = the
// row's timestamp) each, on --baseline-rows of them (it is slower). Both
// answers are compared on those rows.
//
// Target (issue 14): 1M entity rows x 5 features in under 10 s on one core.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include <time.h>

#include <CLI/CLI.hpp>

#include "featurestore/row_store.h"

namespace {

using Clock = std::chrono::steady_clock;
using weir::featurestore::RowBatch;
using weir::featurestore::RowStore;

double Seconds(Clock::time_point since) { return std::chrono::duration<double>(Clock::now() - since).count(); }

// This thread's CPU time: the join runs on one core, whatever else runs.
double CpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

}  // namespace

int main(int argc, char** argv) {  // NOLINT(bugprone-exception-escape): an exception here is a bug; let it abort loudly
  CLI::App app{"weir_historical_bench: the point-in-time join against one as_of read per entity row"};
  int64_t keys = 50000;
  int features = 5;
  int windows = 12;
  int64_t entity_rows = 1'000'000;
  int64_t baseline_rows = 100'000;
  int64_t batch = 20000;
  double target_seconds = 10;
  std::string base = "/tmp";
  app.add_option("--keys", keys, "Entity keys")->capture_default_str();
  app.add_option("--features", features, "Features per key")->capture_default_str();
  app.add_option("--windows", windows, "One-minute windows per key and feature")->capture_default_str();
  app.add_option("--entity-rows", entity_rows, "Entity rows to join")->capture_default_str();
  app.add_option("--baseline-rows", baseline_rows, "Entity rows read one by one (the baseline)")->capture_default_str();
  app.add_option("--batch", batch, "Entity rows per GetHistorical call (the SDK's request batch)")
      ->capture_default_str();
  app.add_option("--target-seconds", target_seconds, "The target for the whole join")->capture_default_str();
  app.add_option("--dir", base, "Where the scratch store goes")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  std::string pattern = base + "/weir-historical-bench-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) {
    std::perror("mkdtemp");
    return 2;
  }
  const std::filesystem::path dir = pattern;
  struct Remove {
    std::filesystem::path p;
    ~Remove() { std::filesystem::remove_all(p); }
  } remove{dir};

  auto opened = RowStore::Open(dir.string());
  if (!opened.ok()) {
    std::fprintf(stderr, "open: %s\n", opened.status().message().c_str());
    return 1;
  }
  RowStore& store = **opened;
  std::vector<std::string> names;
  names.reserve(static_cast<size_t>(features));
  for (int f = 0; f < features; ++f) names.push_back("f" + std::to_string(f));
  constexpr int64_t kT0 = 1'700'000'040'000;
  constexpr int64_t kMinute = 60000;

  // Populate, 100k rows a write.
  auto start = Clock::now();
  std::mt19937_64 rng(42);
  int64_t stored = 0;
  std::vector<RowBatch> group(1);
  group[0].job = "bench";
  group[0].epoch = 1;
  auto flush = [&]() {
    size_t applied = 0;
    if (weir::Status s = store.WriteGroup(group, &applied); !s.ok()) {
      std::fprintf(stderr, "write: %s\n", s.message().c_str());
      std::exit(1);
    }
    stored += static_cast<int64_t>(group[0].rows.size());
    group[0].rows.clear();
  };
  for (int64_t k = 0; k < keys; ++k) {
    const std::string key = "user-" + std::to_string(k);
    for (const std::string& name : names) {
      for (int w = 1; w <= windows; ++w) {
        weir::v1::FeatureRow row;
        row.set_view("bench");
        row.set_key(key);
        row.set_feature(name);
        row.set_window_end(kT0 + w * kMinute);
        row.set_window_start(row.window_end() - kMinute);
        row.set_available_at(row.window_end() + 5000);
        row.mutable_value()->set_number(static_cast<double>(rng() % 1000));
        group[0].rows.push_back(row);
        if (rng() % 3 == 0) {
          row.set_revision(1);
          row.set_available_at(row.window_end() + 45000);
          row.mutable_value()->set_number(static_cast<double>(rng() % 1000));
          group[0].rows.push_back(std::move(row));
        }
      }
    }
    if (group[0].rows.size() >= 100000) flush();
  }
  flush();
  std::printf("populate: %lld rows (%lld keys x %d features x %d windows, a third corrected) in %.1f s\n",
              static_cast<long long>(stored), static_cast<long long>(keys), features, windows, Seconds(start));

  // Entity rows in random order, timestamps over the stored range and a
  // little before and after.
  std::vector<std::string> entity_keys;
  std::vector<int64_t> times;
  entity_keys.reserve(static_cast<size_t>(entity_rows));
  times.reserve(static_cast<size_t>(entity_rows));
  const int64_t span = (windows + 2) * kMinute;
  for (int64_t i = 0; i < entity_rows; ++i) {
    entity_keys.push_back("user-" + std::to_string(rng() % static_cast<uint64_t>(keys)));
    times.push_back(kT0 + static_cast<int64_t>(rng() % static_cast<uint64_t>(span)));
  }

  // The join as the SDK sends it: entity rows sorted by key (a stable
  // argsort, undone on the answers), in batches.
  start = Clock::now();
  const double cpu_start = CpuSeconds();
  std::vector<uint32_t> order(static_cast<size_t>(entity_rows));
  std::iota(order.begin(), order.end(), 0U);
  std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return entity_keys[a] < entity_keys[b]; });
  std::vector<std::vector<weir::v1::HistoricalColumn>> answers;
  int64_t found = 0;
  std::vector<std::string_view> batch_keys;
  std::vector<int64_t> batch_times;
  for (int64_t at = 0; at < entity_rows; at += batch) {
    const auto end = static_cast<size_t>(std::min(entity_rows, at + batch));
    batch_keys.clear();
    batch_times.clear();
    for (size_t i = static_cast<size_t>(at); i < end; ++i) {
      batch_keys.push_back(entity_keys[order[i]]);
      batch_times.push_back(times[order[i]]);
    }
    std::vector<weir::v1::HistoricalColumn> columns;
    if (weir::Status s = store.GetHistorical("bench", names, batch_keys, batch_times, &columns); !s.ok()) {
      std::fprintf(stderr, "join: %s\n", s.message().c_str());
      return 1;
    }
    for (const auto& c : columns) {
      for (bool f : c.found()) found += f ? 1 : 0;
    }
    answers.push_back(std::move(columns));
  }
  const double join_seconds = Seconds(start);
  const double join_cpu = CpuSeconds() - cpu_start;
  // Where each entity row's answer is: batch and index in it.
  std::vector<uint32_t> position(order.size());
  for (size_t i = 0; i < order.size(); ++i) position[order[i]] = static_cast<uint32_t>(i);

  // The baseline: one as_of read per entity row.
  const int64_t base_n = std::min(baseline_rows, entity_rows);
  start = Clock::now();
  const double base_cpu_start = CpuSeconds();
  int64_t mismatches = 0;
  for (int64_t i = 0; i < base_n; ++i) {
    auto rows = store.GetOnline("bench", {entity_keys[static_cast<size_t>(i)]}, names, times[static_cast<size_t>(i)]);
    if (!rows.ok()) {
      std::fprintf(stderr, "baseline: %s\n", rows.status().message().c_str());
      return 1;
    }
    const uint32_t p = position[static_cast<size_t>(i)];
    const auto& cols = answers[p / static_cast<size_t>(batch)];
    const int j = static_cast<int>(p % static_cast<size_t>(batch));
    size_t found_here = 0;
    for (const auto& c : cols) found_here += c.found(j) ? 1 : 0;
    if (found_here != rows->size()) ++mismatches;
    for (const auto& r : *rows) {
      for (const auto& c : cols) {
        if (c.feature() == r.feature() && (!c.found(j) || c.numbers(j) != r.value().number())) ++mismatches;
      }
    }
  }
  const double base_seconds = Seconds(start);
  const double base_cpu = CpuSeconds() - base_cpu_start;
  // Rates by CPU time: on a shared machine wall time counts other work too.
  const double join_rate = static_cast<double>(entity_rows) / join_cpu;
  const double base_rate = static_cast<double>(base_n) / base_cpu;
  std::printf(
      "historical join: %lld entity rows x %d features in %.2f s CPU (%.2f s wall; %.0f entity rows/s; %.0f%% of "
      "values found)\n",
      static_cast<long long>(entity_rows), features, join_cpu, join_seconds, join_rate,
      100.0 * static_cast<double>(found) / static_cast<double>(entity_rows * features));
  std::printf(
      "baseline (one as_of GetOnline per entity row, %lld rows): %.2f s CPU (%.2f s wall; %.0f entity rows/s); join "
      "is %.1fx faster per row\n",
      static_cast<long long>(base_n), base_cpu, base_seconds, base_rate, join_rate / base_rate);
  std::printf("answers equal on the baseline's rows: %s (%lld mismatches)\n", mismatches == 0 ? "yes" : "NO",
              static_cast<long long>(mismatches));
  const double scaled = join_cpu * 1e6 / static_cast<double>(entity_rows) * 5 / features;
  std::printf("target: 1M entity rows x 5 features < %.0f s on one core: %.2f s CPU (scaled) -> %s\n", target_seconds,
              scaled, scaled < target_seconds ? "met" : "MISSED");
  return mismatches == 0 ? 0 : 1;
}
