namespace UnleashingTransformers.Torch;

#pragma warning disable CS8981 // lower-case type names on purpose: the PyTorch-shaped API (torch, nn, optim)

/// <summary>A tensor that is a module's learnable weight: requires grad by default and never belongs
/// to a dispose scope (its module owns it).</summary>
public sealed class Parameter : Tensor
{
    public Parameter(Tensor data, bool requires_grad = true) : base(data.detach())
    {
        this.requires_grad = requires_grad;
    }
}

public static partial class torch
{
    public static partial class nn
    {
        /// <summary>
        /// A module as in PyTorch: parameters, buffers and submodules registered by name, so that
        /// <see cref="state_dict"/> keys are PyTorch's dotted names ("blocks.0.attn.key.weight") and
        /// checkpoints move between the two unchanged.
        /// </summary>
        public abstract class Module : IDisposable
        {
            private readonly OrderedDictionary<string, Module> _modules = new();
            private readonly OrderedDictionary<string, Parameter?> _parameters = new();
            private readonly OrderedDictionary<string, Tensor?> _buffers = new();
            private readonly HashSet<string> _nonPersistent = new();

            /// <summary>Training mode (dropout active, batch statistics updated).</summary>
            public bool training { get; private set; } = true;

            protected T register_module<T>(string name, T module) where T : Module
            {
                CheckName(name);
                _modules[name] = module;
                return module;
            }

            protected Parameter register_parameter(string name, Parameter parameter)
            {
                CheckName(name);
                _parameters[name] = parameter;
                return parameter;
            }

            /// <summary>Registers a buffer (saved in the state dict unless not persistent). The module
            /// takes ownership: the tensor leaves any dispose scope.</summary>
            protected Tensor register_buffer(string name, Tensor tensor, bool persistent = true)
            {
                CheckName(name);
                tensor.DetachFromDisposeScope();
                _buffers[name] = tensor;
                if (!persistent) _nonPersistent.Add(name);
                return tensor;
            }

            private void CheckName(string name)
            {
                if (name.Length == 0 || name.Contains('.'))
                    throw new ArgumentException($"bad module member name '{name}'");
                if (_modules.ContainsKey(name) || _parameters.ContainsKey(name) || _buffers.ContainsKey(name))
                    throw new ArgumentException($"'{name}' is registered already in {GetType().Name}");
            }

            public IEnumerable<(string name, Module module)> named_children() => _modules.Select(kv => (kv.Key, kv.Value));
            public IEnumerable<Module> children() => _modules.Values;

            public IEnumerable<(string name, Module module)> named_modules(string prefix = "")
            {
                yield return (prefix, this);
                foreach (var (name, m) in _modules)
                    foreach (var sub in m.named_modules(prefix.Length == 0 ? name : $"{prefix}.{name}"))
                        yield return sub;
            }

            public IEnumerable<(string name, Parameter parameter)> named_parameters(bool recurse = true)
            {
                foreach (var (prefix, m) in recurse ? named_modules() : new[] { ("", this) })
                    foreach (var (name, p) in m._parameters)
                        if (p is not null) yield return (Join(prefix, name), p);
            }

            public IEnumerable<Parameter> parameters(bool recurse = true) => named_parameters(recurse).Select(p => p.parameter);

            public IEnumerable<(string name, Tensor buffer)> named_buffers(bool recurse = true)
            {
                foreach (var (prefix, m) in recurse ? named_modules() : new[] { ("", this) })
                    foreach (var (name, b) in m._buffers)
                        if (b is not null) yield return (Join(prefix, name), b);
            }

            public IEnumerable<Tensor> buffers(bool recurse = true) => named_buffers(recurse).Select(b => b.buffer);

            private static string Join(string prefix, string name) => prefix.Length == 0 ? name : $"{prefix}.{name}";

            /// <summary>Parameters and persistent buffers by dotted name, in PyTorch's order (a module's
            /// own parameters, then its buffers, then each child's). The tensors alias the module's.</summary>
            public OrderedDictionary<string, Tensor> state_dict()
            {
                var result = new OrderedDictionary<string, Tensor>();
                AddState(result, "");
                return result;
            }

            private void AddState(OrderedDictionary<string, Tensor> into, string prefix)
            {
                foreach (var (name, p) in _parameters)
                    if (p is not null) into[prefix + name] = p.detach();
                foreach (var (name, b) in _buffers)
                    if (b is not null && !_nonPersistent.Contains(name)) into[prefix + name] = b.detach();
                foreach (var (name, m) in _modules) m.AddState(into, $"{prefix}{name}.");
            }

            /// <summary>
            /// Copies a state dict in (converting dtype and device). A wrong shape is always an error;
            /// in strict mode (the default) so is a missing or unexpected key. Every problem is named in
            /// one error. Returns the missing and unexpected keys (non-strict use).
            /// </summary>
            public (List<string> missing, List<string> unexpected) load_state_dict(
                IReadOnlyDictionary<string, Tensor> state, bool strict = true)
            {
                var own = new OrderedDictionary<string, Tensor>();
                foreach (var (name, p) in named_parameters()) own[name] = p;
                foreach (var (prefix, m) in named_modules())
                    foreach (var (name, b) in m._buffers)
                        if (b is not null && !m._nonPersistent.Contains(name)) own[Join(prefix, name)] = b;

                var missing = own.Keys.Where(k => !state.ContainsKey(k)).ToList();
                var unexpected = state.Keys.Where(k => !own.ContainsKey(k)).ToList();
                var wrongShape = new List<string>();
                foreach (var (name, t) in own)
                {
                    if (!state.TryGetValue(name, out var src)) continue;
                    var (have, want) = (src.shape, t.shape);
                    if (!have.SequenceEqual(want))
                        wrongShape.Add($"{name}: checkpoint [{string.Join(", ", have)}], model [{string.Join(", ", want)}]");
                }
                if (wrongShape.Count > 0 || (strict && (missing.Count > 0 || unexpected.Count > 0)))
                {
                    var parts = new List<string>();
                    if (missing.Count > 0) parts.Add($"missing keys: {string.Join(", ", missing)}");
                    if (unexpected.Count > 0 && strict) parts.Add($"unexpected keys: {string.Join(", ", unexpected)}");
                    if (wrongShape.Count > 0) parts.Add($"wrong shapes: {string.Join("; ", wrongShape)}");
                    throw new TorchException($"state dict does not fit {GetType().Name}: {string.Join(" | ", parts)}");
                }
                using (no_grad())
                {
                    foreach (var (name, t) in own)
                        if (state.TryGetValue(name, out var src)) t.copy_(src);
                }
                return (missing, unexpected);
            }

            public Module train(bool mode = true)
            {
                foreach (var (_, m) in named_modules()) m.training = mode;
                return this;
            }

            public Module eval() => train(false);

            /// <summary>Moves parameters and buffers (keeping their identity, as PyTorch's
            /// <c>module.to</c>): create optimizers after moving.</summary>
            public Module to(Device device) => Move(t => t.to(device));

            /// <summary>Converts floating-point parameters and buffers to <paramref name="dtype"/>.</summary>
            public Module to(ScalarType dtype) => Move(t => t.dtype.IsFloatingPoint() ? t.to(dtype) : null);

            private Module Move(Func<Tensor, Tensor?> convert)
            {
                using var scope = NewDisposeScope();
                using (no_grad())
                {
                    foreach (var t in parameters().Cast<Tensor>().Concat(buffers()))
                        if (convert(t) is { } moved) t.set_data(moved);
                }
                return this;
            }

            /// <summary>Clears gradients (to None, as PyTorch's default).</summary>
            public void zero_grad()
            {
                foreach (var p in parameters()) p.grad = null;
            }

            public long parameter_count() => parameters().Sum(p => p.numel());

            public virtual void Dispose()
            {
                foreach (var m in _modules.Values) m.Dispose();
                foreach (var p in _parameters.Values) p?.Dispose();
                foreach (var b in _buffers.Values) b?.Dispose();
                GC.SuppressFinalize(this);
            }
        }

        /// <summary>A module with a typed forward pass.</summary>
        public abstract class Module<TIn, TOut> : Module
        {
            public abstract TOut forward(TIn input);
            public TOut call(TIn input) => forward(input);
        }
    }
}
