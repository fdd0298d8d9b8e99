// Specialization-constant ids and the enumerated values some constants take:
// the one numbering that the shaders (layout(constant_id = ...), through
// #include "spec_ids.h") and the C++ that sets them (kernels/vulkan/ops/)
// share, so the two cannot drift apart. Plain macros because GLSL includes
// it too. A group of per-axis values takes consecutive ids from its base
// (index spaces right-aligned to 8 axes; windows ordered depth, height, width).
#ifndef KILN_VULKAN_SPEC_IDS_H
#define KILN_VULKAN_SPEC_IDS_H

// Threads that do work in a 1-D launch (elements, rows or planes).
#define SPEC_COUNT 1

// activation.comp: a standalone activation (ACT_* kinds below).
#define SPEC_ACT_KIND 2
#define SPEC_ACT_ALPHA 3
#define SPEC_ACT_BETA 4

// binary.comp: broadcasting Add/Sub/Mul/Div with a fused activation.
#define SPEC_BINARY_OP 2  // BINARY_*
#define SPEC_BINARY_ACT_KIND 3
#define SPEC_BINARY_ACT_ALPHA 4
#define SPEC_BINARY_ACT_BETA 5
#define SPEC_BINARY_DIMS 10       // 8: the output's index space
#define SPEC_BINARY_A_STRIDES 20  // 8
#define SPEC_BINARY_B_STRIDES 30  // 8
#define BINARY_ADD 0
#define BINARY_SUB 1
#define BINARY_MUL 2
#define BINARY_DIV 3

// batchnorm.comp
#define SPEC_BN_CHANNELS 2
#define SPEC_BN_INNER 3
#define SPEC_BN_EPSILON 4

// softmax.comp: SPEC_COUNT rows of SPEC_SOFTMAX_LEN values, SPEC_SOFTMAX_INNER apart.
#define SPEC_SOFTMAX_LEN 2
#define SPEC_SOFTMAX_INNER 3

// copy.comp: y[DST view] = x[SRC view] (engine/core/strided_view.hpp).
#define SPEC_COPY_SRC_OFFSET 2
#define SPEC_COPY_DST_OFFSET 3
#define SPEC_COPY_DIMS 10         // 8
#define SPEC_COPY_SRC_STRIDES 20  // 8
#define SPEC_COPY_DST_STRIDES 30  // 8

// pad.comp: output index o reads input o - begin where inside, else the value.
#define SPEC_PAD_VALUE 2
#define SPEC_PAD_OUT_DIMS 10  // 8
#define SPEC_PAD_IN_DIMS 20   // 8
#define SPEC_PAD_BEGIN 30     // 8

// reduce_mean.comp: each output the mean over the reduced axes.
#define SPEC_REDUCE_COUNT 2          // elements averaged per output
#define SPEC_REDUCE_KEPT_DIMS 10     // 8: the output's index space (reduced axes 1)
#define SPEC_REDUCE_REDUCED_DIMS 20  // 8: the reduced axes (kept axes 1)
#define SPEC_REDUCE_STRIDES 30       // 8: the input's strides

// pool.comp (MaxPool, AveragePool; 1-3 spatial axes).
#define SPEC_POOL_IS_MAX 2
#define SPEC_POOL_INCLUDE_PAD 3
#define SPEC_POOL_IN 10         // 3
#define SPEC_POOL_OUT 13        // 3
#define SPEC_POOL_KERNEL 16     // 3
#define SPEC_POOL_STRIDE 19     // 3
#define SPEC_POOL_DILATION 22   // 3
#define SPEC_POOL_PAD_BEGIN 25  // 3
#define SPEC_POOL_PAD_END 28    // 3

// global_pool.comp: SPEC_COUNT planes, a workgroup each.
#define SPEC_GLOBAL_POOL_PLANE 2
#define SPEC_GLOBAL_POOL_IS_MAX 3

// matmul.comp (Gemm, MatMul): strides for transposes, up to 6 broadcast batch axes.
#define SPEC_MATMUL_M 2
#define SPEC_MATMUL_N 3
#define SPEC_MATMUL_K 4
#define SPEC_MATMUL_A_SM 5
#define SPEC_MATMUL_A_SK 6
#define SPEC_MATMUL_B_SK 7
#define SPEC_MATMUL_B_SN 8
#define SPEC_MATMUL_HAS_C 9
#define SPEC_MATMUL_C_SM 10
#define SPEC_MATMUL_C_SN 11
#define SPEC_MATMUL_ALPHA 12
#define SPEC_MATMUL_BETA 13
#define SPEC_MATMUL_ACT_KIND 14
#define SPEC_MATMUL_ACT_ALPHA 15
#define SPEC_MATMUL_ACT_BETA 16
#define SPEC_MATMUL_BATCH_DIMS 20       // 6
#define SPEC_MATMUL_A_BATCH_STRIDES 30  // 6
#define SPEC_MATMUL_B_BATCH_STRIDES 40  // 6

// conv_params.glsl: every convolution shader (engine/core/conv_geometry.hpp).
#define SPEC_CONV_N 2
#define SPEC_CONV_C 3
#define SPEC_CONV_K 4
#define SPEC_CONV_GROUP 5
#define SPEC_CONV_IN 6         // 3
#define SPEC_CONV_OUT 9        // 3
#define SPEC_CONV_KERNEL 12    // 3
#define SPEC_CONV_STRIDE 15    // 3
#define SPEC_CONV_DILATION 18  // 3
#define SPEC_CONV_PAD 21       // 3: the pads before (those after follow from the sizes)
#define SPEC_CONV_HAS_BIAS 24
#define SPEC_CONV_HAS_RESIDUAL 25
#define SPEC_CONV_ACT_KIND 26
#define SPEC_CONV_ACT_ALPHA 27
#define SPEC_CONV_ACT_BETA 28
// conv_gemm.comp
#define SPEC_CONV_GEMM_MODE 30  // CONV_GEMM_*
#define SPEC_CONV_GEMM_KOUT 31  // output channels (dw_pw: of the pointwise layer)
#define SPEC_CONV_DW_ACT_KIND 32
#define SPEC_CONV_DW_ACT_ALPHA 33
#define SPEC_CONV_DW_ACT_BETA 34
#define SPEC_CONV_DW_HAS_BIAS 35
#define CONV_GEMM_IMPLICIT 0  // R = Cg*KH*KW, gathered taps
#define CONV_GEMM_1X1 1       // R = Cg, one input pixel per output pixel
#define CONV_GEMM_DW_PW 2     // a depthwise layer computed on the fly, then the 1x1

// Fused activation kinds, as fb::ActivationKind numbers them (the C++ side
// checks that at compile time).
#define ACT_NONE 0
#define ACT_RELU 1
#define ACT_CLIP 2
#define ACT_LEAKY_RELU 3
#define ACT_SIGMOID 4
#define ACT_HARD_SIGMOID 5
#define ACT_HARD_SWISH 6
#define ACT_TANH 7

#endif
