using System.Diagnostics;
using Spectre.Console;

namespace UnleashingTransformers.Cli;

/// <summary>
/// Progress of long work: a Spectre.Console bar with rate and time left on a terminal; on redirected
/// output (logs, CI) a plain line every few seconds and at the end, so logs stay readable.
/// </summary>
internal sealed class ConsoleProgress
{
    public static void Run(string title, double total, Action<Action<double, string>> work)
    {
        if (!Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive)
        {
            AnsiConsole.Progress()
                .AutoClear(false)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(),
                    new ElapsedTimeColumn(), new RemainingTimeColumn(), new SpinnerColumn())
                .Start(ctx =>
                {
                    var task = ctx.AddTask(Markup.Escape(title), maxValue: Math.Max(1, total));
                    work((value, detail) =>
                    {
                        task.Value = value;
                        task.Description = Markup.Escape(detail.Length == 0 ? title : $"{title}: {detail}");
                    });
                });
            return;
        }
        var sw = Stopwatch.StartNew();
        var lastPrint = TimeSpan.Zero;
        double? first = null;
        work((value, detail) =>
        {
            // A resumed run starts past zero: its rate counts only the work done since this run started.
            first ??= value;
            var now = sw.Elapsed;
            if (value < total && now - lastPrint < TimeSpan.FromSeconds(5)) return;
            lastPrint = now;
            var rate = (value - first.Value) / Math.Max(1e-9, now.TotalSeconds);
            var eta = rate > 0 ? TimeSpan.FromSeconds((total - value) / rate) : TimeSpan.Zero;
            Console.WriteLine($"{title}: {value:0}/{total:0} ({100 * value / Math.Max(1, total):F0}%) {detail} elapsed {now:hh\\:mm\\:ss} eta {eta:hh\\:mm\\:ss}");
        });
    }
}
