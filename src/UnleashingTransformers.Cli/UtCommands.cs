using System.CommandLine;

namespace UnleashingTransformers.Cli;

/// <summary>The <c>ut</c> command and its subcommands.</summary>
internal static class UtCommands
{
    public static RootCommand Root()
    {
        var root = new RootCommand("ut: Unleashing Transformers - discrete-diffusion image generation");
        foreach (var command in Subcommands()) root.Subcommands.Add(command);
        return root;
    }

    private static IEnumerable<Command> Subcommands() =>
    [
        InfoCommand.Create(),
        TrainPriorCommand.Create(),
        SampleCommand.Create(),
        ImageCommands.Encode(),
        ImageCommands.Decode(),
        ImageCommands.Reconstruct(),
        TrainVqGanCommand.Create(),
        GenerateCommand.Create(),
        InpaintCommand.Create(),
        DatasetCommand.Create(),
        ExportCommand.Create(),
        SiloCommand.Create(),
        SubmitCommand.Create(),
        CertsCommand.Create(),
        EvalCommand.Create(),
    ];
}
