#include "engine/row_format.h"

#include <charconv>
#include <cmath>

#include "common/utf8.h"

namespace weir::engine {

void AppendJsonString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  while (!s.empty()) {
    // Bytes that are not well-formed UTF-8 become U+FFFD, one per byte: JSON
    // text is UTF-8, and a reader must never meet a raw invalid byte.
    const size_t valid = ValidUtf8Prefix(s);
    for (char c : s.substr(0, valid)) {
      switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
          if (static_cast<unsigned char>(c) < 0x20) {
            out += "\\u00";
            out.push_back(kHex[(c >> 4) & 0xf]);
            out.push_back(kHex[c & 0xf]);
          } else {
            out.push_back(c);
          }
      }
    }
    if (valid == s.size()) break;
    out += "\\ufffd";
    s.remove_prefix(valid + 1);
  }
  out.push_back('"');
}

void AppendJsonNumber(std::string& out, double v) {
  if (!std::isfinite(v)) {
    // JSON has no such numbers: the string protobuf's JSON mapping uses.
    out += std::isnan(v) ? "\"NaN\"" : v > 0 ? "\"Infinity\"" : "\"-Infinity\"";
    return;
  }
  char buf[32];
  std::to_chars_result r{};
  if (v == std::trunc(v) && std::fabs(v) < 9007199254740992.0) {
    r = std::to_chars(buf, buf + sizeof(buf), static_cast<int64_t>(v));
  } else if (v == std::trunc(v)) {
    // Beyond 2^53 the shortest form can be all digits ("3333333333333333300000"),
    // which JSON readers take for an integer too big for 64 bits and refuse
    // (the row import fuzzer's finding): always with an exponent.
    r = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
  } else {
    r = std::to_chars(buf, buf + sizeof(buf), v);
  }
  out.append(buf, r.ptr);
}

namespace {
void AppendInt(std::string& out, int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out.append(buf, r.ptr);
}
}  // namespace

void AppendRowJson(std::string& out, std::string_view view, std::string_view feature, const FeatureRow& row) {
  out += "{\"view\":";
  AppendJsonString(out, view);
  out += ",\"key\":";
  AppendJsonString(out, row.key);
  out += ",\"feature\":";
  AppendJsonString(out, feature);
  out += ",\"window_start\":";
  AppendInt(out, row.window_start);
  out += ",\"window_end\":";
  AppendInt(out, row.window_end);
  out += ",\"value\":";
  if (row.value.is_text) {
    AppendJsonString(out, row.value.text);
  } else {
    AppendJsonNumber(out, row.value.number);
  }
  out += ",\"revision\":";
  AppendInt(out, row.revision);
  out += ",\"available_at\":";
  AppendInt(out, row.available_at);
  // A number that is not finite is written as a string: the marker tells it
  // from a `last` feature's text value (docs/semantics.md, "Numbers").
  if (!row.value.is_text && !std::isfinite(row.value.number)) out += ",\"nonfinite\":true";
  out += "}\n";
}

void AppendDeadLetterJson(std::string& out, DeadLetterReason reason, int32_t partition, int64_t offset,
                          std::string_view detail, std::string_view record) {
  out += "{\"reason\":";
  AppendJsonString(out, DeadLetterReasonName(reason));
  out += ",\"partition\":";
  AppendInt(out, partition);
  out += ",\"offset\":";
  AppendInt(out, offset);
  out += ",\"detail\":";
  AppendJsonString(out, detail);
  out += ",\"record\":";
  AppendJsonString(out, record);
  out += "}\n";
}

}  // namespace weir::engine
