using System.CommandLine;
using UnleashingTransformers.Cli;

var root = new RootCommand("ut: Unleashing Transformers - discrete-diffusion image generation");
root.Subcommands.Add(InfoCommand.Create());
root.Subcommands.Add(TrainPriorCommand.Create());
root.Subcommands.Add(SampleCommand.Create());
root.Subcommands.Add(ImageCommands.Encode());
root.Subcommands.Add(ImageCommands.Decode());
root.Subcommands.Add(ImageCommands.Reconstruct());
root.Subcommands.Add(TrainVqGanCommand.Create());
root.Subcommands.Add(GenerateCommand.Create());
root.Subcommands.Add(InpaintCommand.Create());
root.Subcommands.Add(DatasetCommand.Create());
root.Subcommands.Add(ExportCommand.Create());
root.Subcommands.Add(SiloCommand.Create());
root.Subcommands.Add(SubmitCommand.Create());
root.Subcommands.Add(CertsCommand.Create());
root.Subcommands.Add(EvalCommand.Create());
// Exceptions reach CliErrors (one line, exit 1) instead of System.CommandLine's stack-trace printer.
var invocation = new InvocationConfiguration { EnableDefaultExceptionHandler = false };
return CliErrors.Run(() => root.Parse(args).Invoke(invocation));
