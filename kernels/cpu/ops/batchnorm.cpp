#include "kernels/cpu/ops/ops.hpp"

namespace kiln::cpu {

// BatchNorm after a Conv is folded into its weights when the model is
// converted; one left standing (no Conv before it) runs on the reference kernel.
void lower_batchnorm(Lowering& l, int node) { l.lower_with_reference(node); }

}  // namespace kiln::cpu
