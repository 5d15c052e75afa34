using UnleashingTransformers.Torch.Interop;

namespace UnleashingTransformers.Torch;

#pragma warning disable CS8981 // lower-case type names on purpose: the PyTorch-shaped API (torch, nn, optim)

public static partial class torch
{
    public static partial class nn
    {
        public enum Reduction { None = 0, Mean = 1, Sum = 2 }

        /// <summary>torch.nn.functional.</summary>
        public static class functional
        {
            private static readonly Op s_linear = O("aten::linear"), s_embedding = O("aten::embedding"),
                s_layer_norm = O("aten::layer_norm"), s_group_norm = O("aten::group_norm"), s_batch_norm = O("aten::batch_norm"),
                s_conv2d = O("aten::conv2d"), s_nearest = O("aten::upsample_nearest2d", "vec"),
                s_bilinear = O("aten::upsample_bilinear2d", "vec"),
                s_bilinear_aa = O("aten::_upsample_bilinear2d_aa", "vec"), s_avg_pool2d = O("aten::avg_pool2d"),
                s_max_pool2d = O("aten::max_pool2d"), s_gelu = O("aten::gelu"), s_silu = O("aten::silu"),
                s_leaky_relu = O("aten::leaky_relu"), s_dropout = O("aten::dropout"),
                s_cross_entropy = O("aten::cross_entropy_loss"), s_mse = O("aten::mse_loss"), s_l1 = O("aten::l1_loss"),
                s_one_hot = O("aten::one_hot"), s_pad = O("aten::constant_pad_nd"),
                s_reflection_pad2d = O("aten::reflection_pad2d"), s_replication_pad2d = O("aten::replication_pad2d");

            public static Tensor linear(Tensor input, Tensor weight, Tensor? bias = null) =>
                s_linear.Begin().T(input).T(weight).TOpt(bias).Call();

            public static Tensor embedding(Tensor input, Tensor weight) => s_embedding.Begin().T(weight).T(input).Call();

            public static Tensor layer_norm(Tensor input, long[] normalized_shape, Tensor? weight = null, Tensor? bias = null, double eps = 1e-5) =>
                s_layer_norm.Begin().T(input).L(normalized_shape).TOpt(weight).TOpt(bias).D(eps).B(true).Call();

            public static Tensor group_norm(Tensor input, long num_groups, Tensor? weight = null, Tensor? bias = null, double eps = 1e-5) =>
                s_group_norm.Begin().T(input).I(num_groups).TOpt(weight).TOpt(bias).D(eps).B(true).Call();

            /// <summary>Batch norm; in training, running statistics (when given) are updated in place.</summary>
            public static Tensor batch_norm(Tensor input, Tensor? running_mean, Tensor? running_var, Tensor? weight = null,
                Tensor? bias = null, bool training = false, double momentum = 0.1, double eps = 1e-5) =>
                s_batch_norm.Begin().T(input).TOpt(weight).TOpt(bias).TOpt(running_mean).TOpt(running_var)
                    .B(training).D(momentum).D(eps).B(true).Call();

            public static Tensor conv2d(Tensor input, Tensor weight, Tensor? bias = null, long[]? stride = null,
                long[]? padding = null, long[]? dilation = null, long groups = 1) =>
                s_conv2d.Begin().T(input).T(weight).TOpt(bias).L(stride ?? new long[] { 1, 1 }).L(padding ?? new long[] { 0, 0 })
                    .L(dilation ?? new long[] { 1, 1 }).I(groups).Call();

            /// <summary>Resizes (N, C, H, W) by size or scale factor, "nearest" or "bilinear"; bilinear with
            /// <paramref name="antialias"/> filters when shrinking, as PIL's resize does.</summary>
            public static Tensor interpolate(Tensor input, long[]? size = null, double[]? scale_factor = null,
                string mode = "nearest", bool align_corners = false, bool antialias = false)
            {
                if ((size is null) == (scale_factor is null))
                    throw new TorchException("interpolate: give exactly one of size and scale_factor");
                var call = mode switch
                {
                    "nearest" => s_nearest.Begin().T(input),
                    "bilinear" when antialias => s_bilinear_aa.Begin().T(input),
                    "bilinear" => s_bilinear.Begin().T(input),
                    _ => throw new TorchException($"interpolate: mode '{mode}' is not supported (nearest, bilinear)"),
                };
                call = size is null ? call.None() : call.L(size);
                if (mode == "bilinear") call = call.B(align_corners);
                return (scale_factor is null ? call.None() : call.DL(scale_factor)).Call();
            }

            public static Tensor avg_pool2d(Tensor input, long[] kernel_size, long[]? stride = null, long[]? padding = null,
                bool ceil_mode = false, bool count_include_pad = true) =>
                s_avg_pool2d.Begin().T(input).L(kernel_size).L(stride ?? kernel_size).L(padding ?? new long[] { 0, 0 })
                    .B(ceil_mode).B(count_include_pad).Call();

            public static Tensor max_pool2d(Tensor input, long[] kernel_size, long[]? stride = null, long[]? padding = null) =>
                s_max_pool2d.Begin().T(input).L(kernel_size).L(stride ?? kernel_size).L(padding ?? new long[] { 0, 0 }).Call();

            /// <summary>GELU; exact (erf) by default as nn.GELU, or approximate = "tanh".</summary>
            public static Tensor gelu(Tensor input, string approximate = "none") => s_gelu.Begin().T(input).Str(approximate).Call();
            public static Tensor silu(Tensor input) => s_silu.Begin().T(input).Call();
            public static Tensor relu(Tensor input) => input.relu();
            public static Tensor leaky_relu(Tensor input, double negative_slope = 0.01) => s_leaky_relu.Begin().T(input).D(negative_slope).Call();
            public static Tensor sigmoid(Tensor input) => input.sigmoid();
            public static Tensor tanh(Tensor input) => input.tanh();
            public static Tensor softmax(Tensor input, long dim, ScalarType? dtype = null) => input.softmax(dim, dtype);
            public static Tensor log_softmax(Tensor input, long dim, ScalarType? dtype = null) => input.log_softmax(dim, dtype);

            public static Tensor dropout(Tensor input, double p = 0.5, bool training = true) =>
                p == 0 || !training ? input.alias() : s_dropout.Begin().T(input).D(p).B(training).Call();

            /// <summary>Cross entropy of logits (N, C, ...) against class indices (N, ...).</summary>
            public static Tensor cross_entropy(Tensor input, Tensor target, Tensor? weight = null, long ignore_index = -100,
                Reduction reduction = Reduction.Mean, double label_smoothing = 0) =>
                s_cross_entropy.Begin().T(input).T(target).TOpt(weight).I((long)reduction).I(ignore_index).D(label_smoothing).Call();

            public static Tensor mse_loss(Tensor input, Tensor target, Reduction reduction = Reduction.Mean) =>
                s_mse.Begin().T(input).T(target).I((long)reduction).Call();

            public static Tensor l1_loss(Tensor input, Tensor target, Reduction reduction = Reduction.Mean) =>
                s_l1.Begin().T(input).T(target).I((long)reduction).Call();

            public static Tensor one_hot(Tensor input, long num_classes = -1) => s_one_hot.Begin().T(input).I(num_classes).Call();

            /// <summary>Pads the last dimensions: pad = (left, right, top, bottom, ...) as PyTorch.
            /// Modes: constant, reflect, replicate (the last two on 4-D input).</summary>
            public static Tensor pad(Tensor input, long[] pad, string mode = "constant", double value = 0) => mode switch
            {
                "constant" => s_pad.Begin().T(input).L(pad).D(value).Call(),
                "reflect" => s_reflection_pad2d.Begin().T(input).L(pad).Call(),
                "replicate" => s_replication_pad2d.Begin().T(input).L(pad).Call(),
                _ => throw new TorchException($"pad: mode '{mode}' is not supported (constant, reflect, replicate)"),
            };
        }
    }
}
