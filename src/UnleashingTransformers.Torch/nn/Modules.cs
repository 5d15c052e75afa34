using static UnleashingTransformers.Torch.torch.nn.functional;

namespace UnleashingTransformers.Torch;

#pragma warning disable CS8981 // lower-case type names on purpose: the PyTorch-shaped API (torch, nn, optim)

public static partial class torch
{
    public static partial class nn
    {
        // Initialisation follows PyTorch's defaults (kaiming-uniform with a = sqrt(5), i.e. uniform in
        // +-1/sqrt(fan_in), for Linear and Conv2d; N(0, 1) for Embedding), drawn from the default
        // generator, so torch.manual_seed makes models reproducible.
        private static Parameter Uniform(long[] shape, double bound) => Param(empty(shape).uniform_(-bound, bound));

        /// <summary>A parameter made from a fresh tensor, which is released (the parameter shares its storage).</summary>
        private static Parameter Param(Tensor fresh)
        {
            using (fresh) return new Parameter(fresh);
        }

        public sealed class Linear : Module<Tensor, Tensor>
        {
            public readonly Parameter weight;
            public readonly Parameter? bias;

            public Linear(long in_features, long out_features, bool hasBias = true)
            {
                var bound = 1.0 / Math.Sqrt(in_features);
                weight = register_parameter("weight", Uniform(new[] { out_features, in_features }, bound));
                if (hasBias) bias = register_parameter("bias", Uniform(new[] { out_features }, bound));
            }

            public override Tensor forward(Tensor input) => linear(input, weight, bias);
        }

        public sealed class Embedding : Module<Tensor, Tensor>
        {
            public readonly Parameter weight;

            public Embedding(long num_embeddings, long embedding_dim)
            {
                weight = register_parameter("weight", Param(randn(num_embeddings, embedding_dim)));
            }

            public override Tensor forward(Tensor input) => embedding(input, weight);
        }

        public sealed class LayerNorm : Module<Tensor, Tensor>
        {
            private readonly long[] _shape;
            private readonly double _eps;
            public readonly Parameter? weight, bias;

            public LayerNorm(long normalized_shape, double eps = 1e-5, bool elementwise_affine = true)
            {
                _shape = new[] { normalized_shape };
                _eps = eps;
                if (!elementwise_affine) return;
                weight = register_parameter("weight", Param(ones(_shape)));
                bias = register_parameter("bias", Param(zeros(_shape)));
            }

            public override Tensor forward(Tensor input) => layer_norm(input, _shape, weight, bias, _eps);
        }

        public sealed class GroupNorm : Module<Tensor, Tensor>
        {
            private readonly long _groups;
            private readonly double _eps;
            public readonly Parameter? weight, bias;

            public GroupNorm(long num_groups, long num_channels, double eps = 1e-5, bool affine = true)
            {
                if (num_channels % num_groups != 0)
                    throw new ArgumentException($"GroupNorm: {num_channels} channels do not split into {num_groups} groups");
                _groups = num_groups;
                _eps = eps;
                if (!affine) return;
                weight = register_parameter("weight", Param(ones(num_channels)));
                bias = register_parameter("bias", Param(zeros(num_channels)));
            }

            public override Tensor forward(Tensor input) => group_norm(input, _groups, weight, bias, _eps);
        }

        public sealed class BatchNorm2d : Module<Tensor, Tensor>
        {
            private readonly double _eps, _momentum;
            public readonly Parameter weight, bias;
            public readonly Tensor running_mean, running_var, num_batches_tracked;

            public BatchNorm2d(long num_features, double eps = 1e-5, double momentum = 0.1)
            {
                _eps = eps;
                _momentum = momentum;
                weight = register_parameter("weight", Param(ones(num_features)));
                bias = register_parameter("bias", Param(zeros(num_features)));
                running_mean = register_buffer("running_mean", zeros(num_features));
                running_var = register_buffer("running_var", ones(num_features));
                num_batches_tracked = register_buffer("num_batches_tracked", zeros(Array.Empty<long>(), int64));
            }

            public override Tensor forward(Tensor input)
            {
                if (training) num_batches_tracked.add_(1);
                return batch_norm(input, running_mean, running_var, weight, bias, training, _momentum, _eps);
            }
        }

        public sealed class Conv2d : Module<Tensor, Tensor>
        {
            private readonly long[] _stride, _padding, _dilation;
            private readonly long _groups;
            public readonly Parameter weight;
            public readonly Parameter? bias;

            public Conv2d(long in_channels, long out_channels, long kernel_size, long stride = 1, long padding = 0,
                long dilation = 1, long groups = 1, bool hasBias = true)
            {
                _stride = new[] { stride, stride };
                _padding = new[] { padding, padding };
                _dilation = new[] { dilation, dilation };
                _groups = groups;
                var fanIn = in_channels / groups * kernel_size * kernel_size;
                var bound = 1.0 / Math.Sqrt(fanIn);
                weight = register_parameter("weight", Uniform(new[] { out_channels, in_channels / groups, kernel_size, kernel_size }, bound));
                if (hasBias) bias = register_parameter("bias", Uniform(new[] { out_channels }, bound));
            }

            public override Tensor forward(Tensor input) => conv2d(input, weight, bias, _stride, _padding, _dilation, _groups);
        }

        public sealed class Dropout(double p = 0.5) : Module<Tensor, Tensor>
        {
            public override Tensor forward(Tensor input) => dropout(input, p, training);
        }

        public sealed class GELU(string approximate = "none") : Module<Tensor, Tensor>
        {
            public override Tensor forward(Tensor input) => gelu(input, approximate);
        }

        public sealed class SiLU : Module<Tensor, Tensor>
        {
            public override Tensor forward(Tensor input) => silu(input);
        }

        public sealed class ReLU : Module<Tensor, Tensor>
        {
            public override Tensor forward(Tensor input) => input.relu();
        }

        public sealed class LeakyReLU(double negative_slope = 0.01) : Module<Tensor, Tensor>
        {
            public override Tensor forward(Tensor input) => leaky_relu(input, negative_slope);
        }

        public sealed class Identity : Module<Tensor, Tensor>
        {
            public override Tensor forward(Tensor input) => input.alias();
        }

        /// <summary>Submodules named "0", "1", ... (or given names, e.g. torchvision's feature indices)
        /// applied in order; intermediates are released.</summary>
        public sealed class Sequential : Module<Tensor, Tensor>
        {
            private readonly List<Module<Tensor, Tensor>> _layers = new();

            public Sequential(params Module<Tensor, Tensor>[] layers)
            {
                foreach (var layer in layers) append(layer);
            }

            public Sequential append(Module<Tensor, Tensor> layer) => append(_layers.Count.ToString(), layer);

            public Sequential append(string name, Module<Tensor, Tensor> layer)
            {
                register_module(name, layer);
                _layers.Add(layer);
                return this;
            }

            public int Count => _layers.Count;
            public Module<Tensor, Tensor> this[int i] => _layers[i];

            public override Tensor forward(Tensor input)
            {
                var x = input;
                foreach (var layer in _layers)
                {
                    var next = layer.forward(x);
                    if (!ReferenceEquals(x, input)) x.Dispose();
                    x = next;
                }
                return ReferenceEquals(x, input) ? input.alias() : x;
            }
        }

        /// <summary>Submodules named "0", "1", ... (PyTorch's ModuleList).</summary>
        public sealed class ModuleList<T> : Module, IReadOnlyList<T> where T : Module
        {
            private readonly List<T> _items = new();

            public ModuleList(IEnumerable<T>? items = null)
            {
                foreach (var item in items ?? Array.Empty<T>()) append(item);
            }

            public ModuleList<T> append(T module)
            {
                register_module(_items.Count.ToString(), module);
                _items.Add(module);
                return this;
            }

            public T this[int index] => _items[index];
            public int Count => _items.Count;
            public IEnumerator<T> GetEnumerator() => _items.GetEnumerator();
            System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
        }
    }
}
