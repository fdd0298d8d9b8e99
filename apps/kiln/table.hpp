#pragma once
#include <string>
#include <vector>

namespace kiln::cli {

// A plain text table with columns sized to their contents.
class Table {
 public:
  explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  std::string str() const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

std::string human_bytes(double bytes);
std::string human_count(double n);  // 1.2K, 3.4M, 5.6G
std::string shape_str(const std::vector<int64_t>& shape);

}  // namespace kiln::cli
