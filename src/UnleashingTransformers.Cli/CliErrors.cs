using UnleashingTransformers.Models;
using UnleashingTransformers.Models.Training;
using UnleashingTransformers.Torch;

namespace UnleashingTransformers.Cli;

/// <summary>Turns the errors a user can cause into one line on stderr and a non-zero exit.</summary>
internal static class CliErrors
{
    public static int Run(Func<int> body)
    {
        try
        {
            return body();
        }
        catch (SettingException e)
        {
            Console.Error.WriteLine($"ut: error: {e.Describe(CliFlags.For)}");
            return 1;
        }
        catch (Exception e) when (e is TorchException or DataParallelException or IOException or UnauthorizedAccessException or ArgumentException or System.Text.Json.JsonException)
        {
            Console.Error.WriteLine($"ut: error: {e.Message}");
            return 1;
        }
        catch (DllNotFoundException e)
        {
            Console.Error.WriteLine($"ut: error: native library missing ({e.Message}); run deploy/bootstrap.sh and rebuild");
            return 1;
        }
    }
}
