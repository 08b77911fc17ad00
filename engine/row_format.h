// The JSON-lines form of feature rows and dead letters, shared by
// `weirctl replay`, `weirctl features export` and tests (docs/semantics.md):
//   {"view":"v","key":"u1","feature":"f","window_start":0,"window_end":60000,"value":12,"revision":0,"available_at":65000}
#pragma once

#include <string>
#include <string_view>

#include "engine/row.h"

namespace weir::engine {

// Appends `s` as a JSON string literal (quotes included) to `out`. Bytes that
// are not well-formed UTF-8 are written as U+FFFD ("\ufffd"), one per byte,
// so the output is always valid JSON text whatever the input.
void AppendJsonString(std::string& out, std::string_view s);

// Appends a number the way rows print it: integral values below 2^53 without a
// fraction ("12"), others in the shortest form that reads back exactly;
// non-finite values as the strings "Infinity", "-Infinity" and "NaN"
// (protobuf's JSON mapping), never as null.
void AppendJsonNumber(std::string& out, double v);

// Appends one row as a JSON object followed by '\n'.
void AppendRowJson(std::string& out, std::string_view view, std::string_view feature, const FeatureRow& row);

// Appends one dead letter as a JSON object followed by '\n':
//   {"reason":"late","partition":0,"offset":7,"detail":"...","record":"<the record's text>"}
void AppendDeadLetterJson(std::string& out, DeadLetterReason reason, int32_t partition, int64_t offset,
                          std::string_view detail, std::string_view record);

}  // namespace weir::engine
