// Rendering helpers for node-debug: aligned text tables, YAML from JSON,
// human-readable sizes. Pure functions and a small value class; thread-safe.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"

namespace tessera::agent::debug {

// A text table: a header row and rows of cells, columns padded to the widest
// cell, separated by two spaces. Rows shorter than the header are padded.
class Table {
 public:
  explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}
  void AddRow(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  size_t rows() const { return rows_.size(); }
  void Render(std::ostream& out) const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

// The same document as YAML (block style, keys in JSON order).
std::string ToYaml(const nlohmann::ordered_json& doc);

// 1536 -> "1.5 KiB", 1082076721152 -> "1007.8 GiB".
std::string HumanBytes(uint64_t bytes);

}  // namespace tessera::agent::debug
