using System.Security.Cryptography;
using UnleashingTransformers.Models.Sampling;

namespace UnleashingTransformers.Grid.Replicas;

/// <summary>
/// Which weights a window request is meant for: the first 16 hex digits of the prior file's SHA-256.
/// A canvas and the replicas serving it must agree, or a job would mix two models' opinions.
/// </summary>
public static class ModelVersion
{
    public static string OfFile(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream))[..16];
    }
}

/// <summary>A model replica, the weights version it holds, and what to dispose with it.</summary>
public sealed record ReplicaModel(ITokenDenoiser Denoiser, string Version, IDisposable? Owner = null);
