#include "kernels/cpu/ops/ops.hpp"

namespace kiln::cpu {

// ReduceMean is rare in CNNs (a classifier head's spatial mean at most): the reference kernel.
void lower_reduce(Lowering& l, int node) { l.lower_with_reference(node); }

}  // namespace kiln::cpu
