#include "cli/row_parse.h"

#include <cstdint>
#include <limits>
#include <string_view>

namespace weir::cli {

namespace pb = weir::v1;

Status ParseRow(simdjson::dom::parser& parser, const std::string& line, pb::FeatureRow* row) {
  simdjson::dom::element doc;
  if (parser.parse(line).get(doc) != simdjson::SUCCESS || !doc.is_object()) {
    return InvalidArgument("not a JSON object");
  }
  std::string_view s;
  if (doc["view"].get(s) != simdjson::SUCCESS) return InvalidArgument("\"view\" must be a string");
  if (s.empty()) return InvalidArgument("\"view\" must not be empty");
  row->set_view(std::string(s));
  if (doc["key"].get(s) != simdjson::SUCCESS) return InvalidArgument("\"key\" must be a string");
  if (s.empty()) return InvalidArgument("\"key\" must not be empty");
  row->set_key(std::string(s));
  if (doc["feature"].get(s) != simdjson::SUCCESS) return InvalidArgument("\"feature\" must be a string");
  if (s.empty()) return InvalidArgument("\"feature\" must not be empty");
  row->set_feature(std::string(s));
  int64_t i = 0;
  if (doc["window_start"].get(i) != simdjson::SUCCESS) return InvalidArgument("\"window_start\" must be an integer");
  row->set_window_start(i);
  if (doc["window_end"].get(i) != simdjson::SUCCESS) return InvalidArgument("\"window_end\" must be an integer");
  row->set_window_end(i);
  uint64_t rev = 0;
  if (doc["revision"].get(rev) != simdjson::SUCCESS || rev > UINT32_MAX) {
    return InvalidArgument("\"revision\" must be a non-negative integer");
  }
  row->set_revision(static_cast<uint32_t>(rev));
  // Optional: rows exported before it existed lack it (the store then takes
  // window_end).
  if (simdjson::dom::element at; doc["available_at"].get(at) == simdjson::SUCCESS) {
    if (at.get(i) != simdjson::SUCCESS || i < row->window_end()) {
      return InvalidArgument("\"available_at\" must be an integer no less than \"window_end\"");
    }
    row->set_available_at(i);
  }
  simdjson::dom::element value;
  if (doc["value"].get(value) != simdjson::SUCCESS) return InvalidArgument("\"value\" is missing");
  bool nonfinite = false;
  if (simdjson::dom::element marker; doc["nonfinite"].get(marker) == simdjson::SUCCESS) {
    if (marker.get(nonfinite) != simdjson::SUCCESS) return InvalidArgument("\"nonfinite\" must be true or false");
  }
  if (nonfinite) {  // a number that is not finite, written as text (docs/semantics.md)
    std::string_view text;
    if (value.get(text) != simdjson::SUCCESS) return InvalidArgument("\"nonfinite\" rows carry their value as text");
    if (text == "Infinity") {
      row->mutable_value()->set_number(std::numeric_limits<double>::infinity());
    } else if (text == "-Infinity") {
      row->mutable_value()->set_number(-std::numeric_limits<double>::infinity());
    } else if (text == "NaN") {
      row->mutable_value()->set_number(std::numeric_limits<double>::quiet_NaN());
    } else {
      return InvalidArgument("a \"nonfinite\" value must be \"Infinity\", \"-Infinity\" or \"NaN\"");
    }
  } else if (value.is_string()) {
    row->mutable_value()->set_text(std::string(value.get_string().value_unsafe()));
  } else if (value.is_number()) {
    row->mutable_value()->set_number(value.get_double().value_unsafe());
  } else {
    return InvalidArgument("\"value\" must be a number or a string");
  }
  return Status::Ok();
}

}  // namespace weir::cli
