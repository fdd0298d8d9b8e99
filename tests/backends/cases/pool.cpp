// Pools: max and average with asymmetric pads, ceil mode, dilations, with and
// without the pad counted, on 1-D, 2-D and 3-D inputs; global pools on odd
// channel counts and 1x1 or 1-D inputs.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "tests/backends/op_cases.hpp"

namespace kiln::test {
namespace {

using O = OpType;

struct PoolSpec {
  Shape x;
  std::vector<int32_t> k, s, p, d;
  bool ceil = false, count_include_pad = false;
};

OpCase pool_case(O op, const PoolSpec& c) {
  std::string name = fmt::format("{}_{}_k{}_s{}", op_name(op), dims_name(c.x), dims_name(c.k), dims_name(c.s));
  if (!c.p.empty()) name += "_p" + fmt::format("{}", fmt::join(c.p, ""));
  if (!c.d.empty()) name += "_d" + dims_name(c.d);
  if (c.ceil) name += "_ceil";
  if (c.count_include_pad) name += "_include_pad";
  return {name, [op, c] {
            return unary_graph(op, pool_attrs(c.k, c.s, c.p, c.d, c.ceil, c.count_include_pad), c.x);
          }};
}

OpCase global_pool_case(O op, const Shape& x) {
  return {fmt::format("{}_{}", op_name(op), dims_name(x)), [op, x] { return unary_graph(op, no_attrs(), x); }};
}

}  // namespace

std::vector<OpCase> pool_cases() {
  std::vector<OpCase> v;
  v.push_back({"MaxPool_k3s2_asym_ceil", [] {
                 return unary_graph(O::MaxPool, pool_attrs({3, 3}, {2, 2}, {0, 1, 1, 0}, {}, true), {1, 6, 12, 11});
               }});
  v.push_back({"MaxPool_k2s2", [] { return unary_graph(O::MaxPool, pool_attrs({2, 2}, {2, 2}), {2, 3, 8, 9}); }});
  v.push_back({"MaxPool_dilated", [] {
                 return unary_graph(O::MaxPool, pool_attrs({3, 2}, {1, 2}, {1, 1, 1, 0}, {2, 1}), {1, 4, 10, 9});
               }});
  v.push_back({"AveragePool_k3s1_pad_exclude", [] {
                 return unary_graph(O::AveragePool, pool_attrs({3, 3}, {1, 1}, {1, 1, 1, 1}), {1, 7, 9, 8});
               }});
  v.push_back({"AveragePool_k3s2_pad_include_ceil", [] {
                 return unary_graph(O::AveragePool, pool_attrs({3, 3}, {2, 2}, {1, 0, 1, 1}, {}, true, true),
                                    {1, 5, 10, 11});
               }});
  v.push_back({"GlobalAveragePool", [] { return unary_graph(O::GlobalAveragePool, no_attrs(), {2, 67, 7, 5}); }});
  v.push_back({"GlobalMaxPool", [] { return unary_graph(O::GlobalMaxPool, no_attrs(), {1, 33, 6, 9}); }});

  // Each shape both max and average (from the Vulkan suite).
  const std::vector<PoolSpec> both = {
      {{1, 3, 9, 9}, {3, 3}, {2, 2}, {1, 1, 1, 1}, {}, false, false},
      {{2, 5, 10, 7}, {2, 3}, {2, 1}, {0, 1, 1, 0}, {1, 2}, true, false},
      {{1, 4, 11, 11}, {3, 3}, {2, 2}, {1, 0, 1, 1}, {}, true, true},
      {{1, 2, 8, 9}, {5, 5}, {3, 2}, {2, 2, 2, 2}, {2, 1}, false, true},
      {{1, 3, 13}, {4}, {3}, {1, 2}, {}, true, false},
      {{1, 2, 5, 6, 7}, {2, 3, 2}, {2, 2, 1}, {0, 1, 1, 1, 0, 0}, {}, false, true},
      // Channels over one and over four vectors of every level, with a
      // partial last one (the CPU kernel takes up to four vectors a pass).
      {{1, 150, 9, 8}, {3, 3}, {2, 2}, {1, 1, 1, 1}, {}, false, true},
      {{2, 37, 7, 9}, {3, 2}, {1, 2}, {1, 0, 1, 1}, {1, 2}, true, false},
      {{1, 64, 12, 12}, {3, 3}, {2, 2}, {1, 1, 0, 0}, {}, true, true},
  };
  for (const PoolSpec& c : both)
    for (O op : {O::MaxPool, O::AveragePool}) v.push_back(pool_case(op, c));
  for (const Shape& s : std::vector<Shape>{{1, 7, 5, 5}, {2, 3, 1, 1}, {1, 65, 9, 13}, {1, 3, 100}})
    for (O op : {O::GlobalAveragePool, O::GlobalMaxPool}) v.push_back(global_pool_case(op, s));

  // From the CUDA suite.
  const std::vector<PoolSpec> max_pools = {
      {{1, 19, 13, 13}, {3, 3}, {2, 2}, {1, 1, 1, 1}, {}},
      {{1, 7, 10, 10}, {3, 3}, {2, 2}, {}, {}, true},
      {{1, 33, 9, 11}, {3, 2}, {1, 2}, {1, 0, 0, 1}, {}},
      {{1, 17, 11, 11}, {3, 3}, {1, 1}, {2, 2, 2, 2}, {2, 2}},
      {{2, 3, 12}, {3}, {2}, {1, 0}, {}},
  };
  for (const PoolSpec& c : max_pools) v.push_back(pool_case(O::MaxPool, c));
  const std::vector<PoolSpec> average_pools = {
      {{1, 19, 7, 7}, {3, 3}, {1, 1}, {1, 1, 1, 1}, {}, false, true},
      {{2, 9, 10, 9}, {3, 3}, {2, 2}, {0, 1, 2, 1}, {}, true, false},
      {{1, 16, 9, 9}, {2, 3}, {1, 1}, {1, 1, 0, 1}, {2, 1}, false, true},
      {{1, 2, 5, 6, 7}, {2, 3, 3}, {1, 2, 1}, {0, 1, 1, 1, 0, 1}, {}, false, false},
  };
  for (const PoolSpec& c : average_pools) v.push_back(pool_case(O::AveragePool, c));
  for (O op : {O::GlobalAveragePool, O::GlobalMaxPool}) v.push_back(global_pool_case(op, {2, 67, 15, 17}));
  return v;
}

}  // namespace kiln::test
