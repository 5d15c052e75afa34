using UnleashingTransformers.Torch.Serialization;

namespace UnleashingTransformers.Torch;

#pragma warning disable CS8981 // lower-case type names on purpose: the PyTorch-shaped API (torch, nn, optim)

public static partial class torch
{
    public static partial class optim
    {
        /// <summary>A group of parameters sharing hyperparameters; <see cref="lr"/> may change every
        /// step (warm-up).</summary>
        public sealed class ParamGroup(IEnumerable<Parameter> parameters, double lr)
        {
            public List<Parameter> @params { get; } = parameters.ToList();
            public double lr { get; set; } = lr;
        }

        /// <summary>Adam's per-parameter state.</summary>
        internal sealed class AdamState : IDisposable
        {
            public double step;
            public Tensor exp_avg = null!, exp_avg_sq = null!;

            public void Dispose()
            {
                exp_avg?.Dispose();
                exp_avg_sq?.Dispose();
            }
        }

        /// <summary>
        /// Adam (Kingma and Ba) as PyTorch 1.13 computes it, operation for operation, so that training
        /// matches PyTorch's and a saved state resumes bit-exactly. <see cref="AdamW"/> differs only in
        /// applying weight decay to the weights directly.
        /// </summary>
        public class Adam : IDisposable
        {
            public List<ParamGroup> param_groups { get; } = new();
            public double beta1 { get; }
            public double beta2 { get; }
            public double eps { get; }
            public double weight_decay { get; }
            protected virtual bool Decoupled => false;
            private readonly Dictionary<Parameter, AdamState> _state = new(ReferenceEqualityComparer.Instance);

            public Adam(IEnumerable<Parameter> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999,
                double eps = 1e-8, double weight_decay = 0)
            {
                if (lr < 0 || eps < 0 || beta1 is < 0 or >= 1 || beta2 is < 0 or >= 1 || weight_decay < 0)
                    throw new ArgumentException("Adam: lr, eps and weight_decay must be >= 0 and betas in [0, 1)");
                param_groups.Add(new ParamGroup(parameters, lr));
                this.beta1 = beta1;
                this.beta2 = beta2;
                this.eps = eps;
                this.weight_decay = weight_decay;
            }

            /// <summary>Sets every group's learning rate (e.g. for linear warm-up).</summary>
            public double lr
            {
                get => param_groups[0].lr;
                set { foreach (var g in param_groups) g.lr = value; }
            }

            /// <summary>Clears gradients (to None, as PyTorch's default).</summary>
            public void zero_grad()
            {
                foreach (var g in param_groups)
                    foreach (var p in g.@params) p.grad = null;
            }

            public void step()
            {
                using var scope = NewDisposeScope();
                using var noGrad = no_grad();
                foreach (var group in param_groups)
                {
                    foreach (var param in group.@params)
                    {
                        var grad = param.grad;
                        if (grad is null) continue;
                        if (!_state.TryGetValue(param, out var state))
                        {
                            state = new AdamState
                            {
                                exp_avg = zeros_like(param).DetachFromDisposeScope(),
                                exp_avg_sq = zeros_like(param).DetachFromDisposeScope(),
                            };
                            _state[param] = state;
                        }
                        state.step += 1;
                        if (weight_decay != 0)
                        {
                            if (Decoupled) param.mul_(1 - group.lr * weight_decay);
                            else grad = grad.add(param, weight_decay);
                        }
                        state.exp_avg.mul_(beta1).add_(grad, 1 - beta1);
                        state.exp_avg_sq.mul_(beta2).addcmul_(grad, grad, 1 - beta2);
                        var biasCorrection1 = 1 - Math.Pow(beta1, state.step);
                        var biasCorrection2 = 1 - Math.Pow(beta2, state.step);
                        var stepSize = group.lr / biasCorrection1;
                        var denom = (state.exp_avg_sq.sqrt() / Math.Sqrt(biasCorrection2)).add_(eps);
                        param.addcdiv_(state.exp_avg, denom, -stepSize);
                    }
                }
            }

            /// <summary>PyTorch's optimizer state dict: {"state": {index: {step, exp_avg, exp_avg_sq}},
            /// "param_groups": [{lr, betas, eps, weight_decay, ..., params: [indices]}]}; torch.save
            /// writes it so that PyTorch's Adam.load_state_dict reads it, and back.</summary>
            public PyDict state_dict()
            {
                var state = new PyDict();
                var groups = new List<object?>();
                var index = 0L;
                foreach (var group in param_groups)
                {
                    var indices = new List<object?>();
                    foreach (var p in group.@params)
                    {
                        if (_state.TryGetValue(p, out var s))
                        {
                            state[index] = new PyDict
                            {
                                ["step"] = scalar_tensor(s.step).DetachFromDisposeScope(),
                                ["exp_avg"] = s.exp_avg.detach().DetachFromDisposeScope(),
                                ["exp_avg_sq"] = s.exp_avg_sq.detach().DetachFromDisposeScope(),
                            };
                        }
                        indices.Add(index++);
                    }
                    groups.Add(new PyDict
                    {
                        ["lr"] = group.lr,
                        ["betas"] = new PyTuple(beta1, beta2),
                        ["eps"] = eps,
                        ["weight_decay"] = weight_decay,
                        ["amsgrad"] = false,
                        ["maximize"] = false,
                        ["foreach"] = null,
                        ["capturable"] = false,
                        ["differentiable"] = false,
                        ["fused"] = false,
                        ["params"] = indices,
                    });
                }
                return new PyDict { ["state"] = state, ["param_groups"] = groups };
            }

            /// <summary>Restores a state dict made by <see cref="state_dict"/> or by PyTorch's Adam.</summary>
            public void load_state_dict(PyDict dict)
            {
                if (dict.GetValueOrDefault("state") is not PyDict state || dict.GetValueOrDefault("param_groups") is not List<object?> groups)
                    throw new TorchException("not an optimizer state dict: 'state' and 'param_groups' expected");
                if (groups.Count != param_groups.Count)
                    throw new TorchException($"optimizer state has {groups.Count} parameter groups, this optimizer {param_groups.Count}");
                var byIndex = new Dictionary<long, Parameter>();
                for (var g = 0; g < groups.Count; g++)
                {
                    var saved = (PyDict)groups[g]!;
                    var ids = (List<object?>)saved["params"]!;
                    if (ids.Count != param_groups[g].@params.Count)
                        throw new TorchException($"optimizer group {g} has {ids.Count} parameters saved, {param_groups[g].@params.Count} here");
                    param_groups[g].lr = Convert.ToDouble(saved["lr"]);
                    for (var j = 0; j < ids.Count; j++) byIndex[Convert.ToInt64(ids[j])] = param_groups[g].@params[j];
                }
                foreach (var s in _state.Values) s.Dispose();
                _state.Clear();
                using (no_grad())
                {
                    foreach (var (key, value) in state)
                    {
                        var p = byIndex[Convert.ToInt64(key)];
                        var entry = (PyDict)value!;
                        var stepValue = entry["step"] is Tensor st ? st.item<double>() : Convert.ToDouble(entry["step"]);
                        _state[p] = new AdamState
                        {
                            step = stepValue,
                            exp_avg = Fit((Tensor)entry["exp_avg"]!, p),
                            exp_avg_sq = Fit((Tensor)entry["exp_avg_sq"]!, p),
                        };
                    }
                }
            }

            private static Tensor Fit(Tensor saved, Parameter p)
            {
                if (!saved.shape.SequenceEqual(p.shape))
                    throw new TorchException($"optimizer state of shape [{string.Join(", ", saved.shape)}] for a parameter of shape [{string.Join(", ", p.shape)}]");
                return saved.to(p.device, p.dtype).clone().DetachFromDisposeScope();
            }

            public void Dispose()
            {
                foreach (var s in _state.Values) s.Dispose();
                _state.Clear();
                GC.SuppressFinalize(this);
            }
        }

        /// <summary>AdamW (Loshchilov and Hutter): decoupled weight decay, default 0.01 as PyTorch.</summary>
        public sealed class AdamW(IEnumerable<Parameter> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999,
            double eps = 1e-8, double weight_decay = 1e-2) : Adam(parameters, lr, beta1, beta2, eps, weight_decay)
        {
            protected override bool Decoupled => true;
        }
    }

    public static partial class nn
    {
        public static class utils
        {
            /// <summary>Scales gradients so their joint norm is at most <paramref name="max_norm"/>;
            /// returns the norm before clipping (as torch.nn.utils.clip_grad_norm_).</summary>
            public static double clip_grad_norm_(IEnumerable<Parameter> parameters, double max_norm, double norm_type = 2)
            {
                using var scope = NewDisposeScope();
                using var noGrad = no_grad();
                var grads = parameters.Select(p => p.grad).Where(g => g is not null).Cast<Tensor>().ToList();
                if (grads.Count == 0) return 0;
                var norms = grads.Select(g => g.norm(norm_type)).ToList();
                var total = stack(norms).norm(norm_type);
                var coef = (max_norm / (total + 1e-6)).clamp(max: 1.0);
                foreach (var g in grads) g.mul_(coef);
                return total.item<double>();
            }
        }
    }
}
