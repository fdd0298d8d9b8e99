// engine/core/checked_size.hpp, and the places that count elements from
// input with it: element_count, kiln::Tensor. Hostile dims must give a
// kiln::Error naming the shape and the limit, never overflow (UB) or an
// allocation of what they claim.
#include <cstdint>
#include <limits>

#include "engine/core/checked_size.hpp"
#include "engine/core/graph.hpp"
#include "engine/core/op_info.hpp"
#include "engine/core/shape_inference.hpp"
#include "gmock/gmock.h"
#include "kiln/kiln.hpp"
#include "tests/common/graph_builder.hpp"

namespace kiln::test {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr int64_t k2to32 = int64_t{1} << 32;
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

// The error `f` throws (fails the test when it throws none).
template <class F>
Error error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "no kiln::Error thrown";
  return Error(ErrorCode::Internal, "none");
}

const SizeSource kFile{"x.npy", ErrorCode::InvalidArgument};

TEST(CheckedSize, CountsPlausibleShapes) {
  EXPECT_EQ(checked_element_count({}, kFile), 1);
  EXPECT_EQ(checked_element_count({2, 3, 4}, kFile), 24);
  EXPECT_EQ(checked_element_count({3, 0, 5}, kFile), 0);
  EXPECT_EQ(checked_element_count({kMaxTensorElements}, kFile), kMaxTensorElements);
  EXPECT_EQ(checked_byte_count({2, 3}, 4, kFile), 24);
  EXPECT_EQ(checked_mul(6, 7, kFile, "the size"), 42);
  EXPECT_EQ(checked_add(6, 7, kFile, "the size"), 13);
}

TEST(CheckedSize, ProductsThatWouldOverflowInt64AreErrorsNamingShapeAndLimit) {
  // 2^32 * 2^32 wraps to 0 in int64 arithmetic: the UBSan finding.
  const Error e = error_of([] { checked_element_count({k2to32, k2to32}, kFile); });
  EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
  EXPECT_THAT(e.what(), AllOf(HasSubstr("x.npy"), HasSubstr("[4294967296,4294967296]"),
                              HasSubstr("implausibly large"), HasSubstr(std::to_string(kMaxTensorElements))));
  // One past the limit, and a product that wraps exactly to a small number.
  EXPECT_THAT(error_of([] { checked_element_count({kMaxTensorElements + 1}, kFile); }).what(),
              HasSubstr("implausibly large"));
  EXPECT_THAT(error_of([] { checked_element_count({(int64_t{1} << 62) + 1, 4}, kFile, kMax); }).what(),
              HasSubstr("implausibly large"));
  // A zero elsewhere does not excuse an implausible dimension.
  EXPECT_THAT(error_of([] { checked_element_count({0, k2to32, k2to32}, kFile); }).what(),
              HasSubstr("implausibly large"));
}

TEST(CheckedSize, NegativeDimensionsAreErrorsNamingTheAxis) {
  const Error e = error_of([] { checked_element_count({2, -1, 3}, {"tensor 'w'", ErrorCode::InvalidModel}); });
  EXPECT_EQ(e.code(), ErrorCode::InvalidModel);
  EXPECT_THAT(e.what(), AllOf(HasSubstr("tensor 'w'"), HasSubstr("negative dimension"), HasSubstr("-1 at axis 1")));
}

TEST(CheckedSize, BytesMulAndAddAreBoundedToo) {
  EXPECT_THAT(error_of([] { checked_byte_count({kMaxTensorElements}, 16, kFile); }).what(),
              AllOf(HasSubstr("the byte count"), HasSubstr("implausibly large")));
  EXPECT_THAT(error_of([] { checked_mul(kMax, 2, kFile, "the data size", kMax); }).what(),
              HasSubstr("the data size"));
  EXPECT_THAT(error_of([] { checked_add(kMax, 1, kFile, "the sum", kMax); }).what(), HasSubstr("overflow"));
  EXPECT_THAT(error_of([] { checked_add(-1, 1, kFile, "the sum"); }).what(), HasSubstr("negative"));
  EXPECT_EQ(element_count_within({k2to32, k2to32}), std::nullopt);
  EXPECT_EQ(element_count_within({-2}), std::nullopt);
  EXPECT_EQ(element_count_within({5, 5}), 25);
}

TEST(CheckedSize, RangeWithinDoesNotWrapAround) {
  EXPECT_TRUE(range_within(0, 10, 10));
  EXPECT_TRUE(range_within(10, 0, 10));
  EXPECT_FALSE(range_within(5, 6, 10));
  EXPECT_FALSE(range_within(11, 0, 10));
  // offset + size wraps to 4 in 64 bits.
  EXPECT_FALSE(range_within(8, std::numeric_limits<uint64_t>::max() - 3, 100));
}

TEST(CheckedSize, SaturatingArithmeticClampsInsteadOfWrapping) {
  EXPECT_EQ(saturating_mul(1 << 20, 1 << 20), int64_t{1} << 40);
  EXPECT_EQ(saturating_mul(kMaxTensorElements, kMaxTensorElements), kMax);
  EXPECT_EQ(saturating_add(kMax - 1, 5), kMax);
  EXPECT_EQ(saturating_add(2, 5), 7);
}

TEST(CheckedSize, FlopsOfAPlausibleButHugeConvSaturate) {
  // Input and weight within the tensor limit, yet 2 * 2^34 * 2^34 > 2^63.
  Graph g;
  Node conv;
  conv.name = "conv";
  conv.op = OpType::Conv;
  conv.inputs = {g.add_tensor("x", {1, 1, 1 << 18, 1 << 18}), g.add_tensor("w", {1, 1, 1 << 17, 1 << 17})};
  conv.outputs = {g.add_tensor("y")};
  conv.attrs = make_attrs(conv_attrs({1 << 17, 1 << 17}));
  g.tensor(conv.outputs[0]).shape = infer_output_shapes(g, conv)[0];
  EXPECT_EQ(g.shape(conv.outputs[0]), (Shape{1, 1, (1 << 17) + 1, (1 << 17) + 1}));
  EXPECT_EQ(node_flops(g, conv), kMax);
}

TEST(ElementCount, OverflowAndNegativeDimsThrowInsteadOfWrapping) {
  EXPECT_EQ(element_count({2, 3, 4}), 24);
  EXPECT_EQ(element_count({}), 1);
  // Beyond the tensor limit but representable: element_count is exact.
  EXPECT_EQ(element_count({k2to32, 1 << 20}), int64_t{1} << 52);
  EXPECT_THAT(error_of([] { element_count({k2to32, k2to32}); }).what(), HasSubstr("[4294967296,4294967296]"));
  EXPECT_THAT(error_of([] { element_count({3, -2}); }).what(), HasSubstr("negative dimension"));
}

TEST(TensorShape, HugeOrNegativeShapesAreRefusedBeforeAllocating) {
  // 2^32 x 2^32 floats: the old constructor computed 0 bytes from the
  // wrapped product; 2^20 x 2^20 x 4 would ask for 16 TiB.
  for (const std::vector<int64_t>& shape : {std::vector<int64_t>{k2to32, k2to32}, {1 << 20, 1 << 20, 4}}) {
    const Error e = error_of([&] { Tensor t(shape); });
    EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
    EXPECT_THAT(e.what(), AllOf(HasSubstr("kiln::Tensor"), HasSubstr("implausibly large")));
  }
  EXPECT_THAT(error_of([] { Tensor t({1, -3, 2}); }).what(), AllOf(HasSubstr("negative"), HasSubstr("[1,-3,2]")));
  float value = 0;
  EXPECT_THAT(error_of([&] { Tensor::wrap(&value, {-1}); }).what(), HasSubstr("negative"));
  EXPECT_THAT(error_of([&] { Tensor::wrap(&value, {k2to32, k2to32}); }).what(), HasSubstr("implausibly large"));
  const Tensor ok({2, 0, 3}, ElementType::UInt8);
  EXPECT_EQ(ok.size(), 0);
  EXPECT_EQ(Tensor({3, 5}).size_bytes(), 60u);
}

}  // namespace
}  // namespace kiln::test
