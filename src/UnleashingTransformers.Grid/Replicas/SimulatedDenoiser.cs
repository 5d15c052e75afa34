using UnleashingTransformers.Models.Sampling;

namespace UnleashingTransformers.Grid.Replicas;

/// <summary>
/// A replica for measuring the grid, not the model (Window:SimulatedBatchMs): each forward pass takes a fixed
/// time, sleeping as a GPU forward pass would leave the CPU free, and every distribution is uniform. Replicas
/// run a pass per window (<see cref="WindowBatch"/>, for batch invariance), so that is the time per window.
/// </summary>
public sealed class SimulatedDenoiser(int length, int codebookSize, TimeSpan perBatch) : ITokenDenoiser
{
    public int Length => length;
    public int CodebookSize => codebookSize;
    public int MaskId => codebookSize;

    public float[] Probabilities(ReadOnlySpan<long> tokens, int rows, IReadOnlyList<WantedPosition> wanted)
    {
        if (perBatch > TimeSpan.Zero) Thread.Sleep(perBatch);
        var probabilities = new float[wanted.Count * codebookSize];
        Array.Fill(probabilities, 1f / codebookSize);
        return probabilities;
    }
}
