// BatchNormalization.
#include "converter/op_importers.hpp"

namespace kiln::onnx_import {

void import_batch_norm(NodeContext& ctx) {
  ctx.require_inputs(5, 5);
  const Attributes& a = ctx.attrs();
  if (a.get_int("training_mode", 0) != 0)
    ctx.unsupported("attribute training_mode = 1 is not supported; Kiln runs inference only");
  if (ctx.opset() < 9 && a.get_int("spatial", 1) == 0)
    ctx.unsupported("attribute spatial = 0 (opset " + std::to_string(ctx.opset()) +
                    ": per-element statistics) is not supported");
  for (size_t i = 1; i < ctx.num_outputs(); ++i)
    if (!ctx.proto().output(static_cast<int>(i)).empty())
      ctx.unsupported("it has " + std::to_string(ctx.num_outputs()) +
                      " outputs (running or saved statistics), which only training mode computes; Kiln runs "
                      "inference only");
  fb::BatchNormAttrsT attrs;
  attrs.epsilon = a.get_float("epsilon", 1e-5f);
  std::vector<TensorId> inputs;
  for (size_t i = 0; i < 5; ++i) inputs.push_back(ctx.tensor(i));
  ctx.emit(OpType::BatchNormalization, std::move(inputs), make_attrs(attrs));
}

}  // namespace kiln::onnx_import
