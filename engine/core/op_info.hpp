#pragma once
// Static facts about each operator: its name, how many inputs and outputs it
// takes and which attribute table it carries. Used by the loader's checks, the
// converter and `kiln inspect`.
#include <optional>
#include <span>
#include <string_view>

#include "engine/core/graph.hpp"

namespace kiln {

struct OpInfo {
  OpType op;
  std::string_view name;
  int min_inputs;
  int max_inputs;
  int min_outputs;
  int max_outputs;  // -1: any number
  fb::Attributes attributes;  // NONE if the op has no attributes
  bool elementwise;  // output shape == (broadcast) input shape, one value per element
};

const OpInfo& op_info(OpType op);
std::string_view op_name(OpType op);
std::optional<OpType> op_from_name(std::string_view name);
std::span<const OpInfo> all_ops();

// Reshape-like ops move no data: output bytes equal input bytes.
bool is_reshape_like(OpType op);
bool is_unary_activation(OpType op);

// Human-readable attribute summary, e.g. "k=3x3 s=2x2 p=0,0,1,1 g=32 act=Clip(0,6)".
std::string describe_attributes(const Node& node);
std::string describe_activation(const fb::FusedActivation& act);

// Multiply-adds counted as 2 FLOPs; elementwise ops as 1 per output element.
int64_t node_flops(const Graph& graph, const Node& node);
// Number of constant parameters a node reads (weights, biases, BN stats...).
int64_t node_params(const Graph& graph, const Node& node);

}  // namespace kiln
