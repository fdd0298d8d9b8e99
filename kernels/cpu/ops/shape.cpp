#include "kernels/cpu/ops/ops.hpp"

namespace kiln::cpu {

// Reshape-like ops see the NCHW order (a Flatten after an NHWC conv must not
// flatten NHWC bytes): the reference copy on NCHW, which the memory planner
// usually turns into no copy at all.
void lower_shape(Lowering& l, int node) { l.lower_with_reference(node); }

}  // namespace kiln::cpu
