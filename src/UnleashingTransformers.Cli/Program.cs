using System.CommandLine;
using UnleashingTransformers.Cli;

var root = UtCommands.Root();
// Exceptions reach CliErrors (one line, exit 1) instead of System.CommandLine's stack-trace printer.
var invocation = new InvocationConfiguration { EnableDefaultExceptionHandler = false };
return CliErrors.Run(() => root.Parse(args).Invoke(invocation));
