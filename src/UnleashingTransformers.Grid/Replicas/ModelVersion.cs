using System.Collections.Concurrent;
using System.Security.Cryptography;
using UnleashingTransformers.Models.Sampling;

namespace UnleashingTransformers.Grid.Replicas;

/// <summary>
/// Which weights a window request is meant for: the first 16 hex digits of the prior file's SHA-256.
/// A canvas and the replicas serving it must agree, or a job would mix two models' opinions.
/// </summary>
public static class ModelVersion
{
    // A silo asks for its models' versions at every lookup; a file is read again only when it changed.
    private static readonly ConcurrentDictionary<string, (long length, DateTime written, string version)> Known = new();

    public static string OfFile(string path)
    {
        var file = new FileInfo(path);
        if (!file.Exists) throw new FileNotFoundException($"model file {path} not found", path);
        var full = file.FullName;
        if (Known.TryGetValue(full, out var k) && k.length == file.Length && k.written == file.LastWriteTimeUtc) return k.version;
        using var stream = File.OpenRead(full);
        var version = Convert.ToHexStringLower(SHA256.HashData(stream))[..16];
        Known[full] = (file.Length, file.LastWriteTimeUtc, version);
        return version;
    }
}

/// <summary>A model replica, the weights version it holds, and what to dispose with it.</summary>
public sealed record ReplicaModel(ITokenDenoiser Denoiser, string Version, IDisposable? Owner = null);
