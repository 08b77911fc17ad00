// Forward declarations of the prometheus-cpp types that headers name (by
// pointer or reference), so prometheus-cpp's headers stay in .cc files.
#pragma once

namespace prometheus {
class Counter;
class Gauge;
class Histogram;
class Registry;
template <typename T>
class Family;
}  // namespace prometheus
