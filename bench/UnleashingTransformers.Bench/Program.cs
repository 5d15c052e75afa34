using UnleashingTransformers.Bench;
using UnleashingTransformers.Torch;

// Benchmarks (figures, not tests): each compares this project with the reference computation in
// Debian's PyTorch, measured in the same run on the same machine. See bench/README.md.
const string Usage = "usage: bench binding [--threads N] [--reps N] [--rounds N]\n       bench prior [--threads N] [--steps-b1 N] [--steps-b8 N]\n       bench vqgan [--threads N] [--batch N] " +
    "[--reps N]\n       bench canvas\n       bench grid\n       bench grid-overhead\n       bench schedules [--count N] [--canvases N] [--models DIR]\n       bench coordinator\n       bench " +
        "backbones [--forward-only]\n       bench recon --vqgan FILE [--count N]\n       bench sundae --sundae FILE [--models DIR] [--count N] [--canvases N] [--threads N]\n       bench whole " +
            "--nat FILE [--models DIR] [--canvases N] [--threads N]\n       bench bigimage [--sizes 512,1024] [--window-silos 1,2]\n       bench batching [--threads N]\n       bench mixed " +
                "[--seconds 60]\n       bench models [--jobs 4]\n       bench training";
if (args.Length == 3 && args[0] == "coordinator-child") return CoordinatorBench.Child(int.Parse(args[1]), args[2]); // child process
if (args.Length == 3 && args[0] == "vqgan-decode64") return VqGanBench.Decode64(args[1], int.Parse(args[2])); // child process
if (args.Length == 0) { Console.Error.WriteLine(Usage); return 1; }
var threads = torch.get_num_threads(); // libtorch's default unless --threads
int? reps = null, seconds = null, jobs = null;
int rounds = 2, stepsB1 = 12, stepsB8 = 4, batch = 2, count = 256, canvases = 8;
var models = ScheduleBench.Bundled;   // a folder with vqgan_ema.th and absorbing_ema.th
var vqgan = Path.Combine(ScheduleBench.Bundled, "vqgan_ema.th");
string? sundae = null, nat = null;   // trained priors of the peers (models/terrain/README.md says how)
int[] sizes = [512, 1024], windowSilos = [1, 2];   // bench bigimage
var forwardOnly = false;   // bench backbones: the forward table, not the canvases
for (var i = 1; i < args.Length; i++)
{
    int Next() => i + 1 < args.Length && int.TryParse(args[++i], out var v) && v > 0 ? v
        : throw new ArgumentException($"{args[i - 1]} needs a positive number");
    switch (args[i])
    {
        case "--threads": threads = Next(); break;
        case "--reps": reps = Next(); break;
        case "--seconds": seconds = Next(); break;
        case "--jobs": jobs = Next(); break;
        case "--batch": batch = Next(); break;
        case "--rounds": rounds = Next(); break;
        case "--steps-b1": stepsB1 = Next(); break;
        case "--steps-b8": stepsB8 = Next(); break;
        case "--count": count = Next(); break;
        case "--canvases": canvases = Next(); break;
        case "--models" when i + 1 < args.Length: models = args[++i]; break;
        case "--vqgan" when i + 1 < args.Length: vqgan = args[++i]; break;
        case "--sundae" when i + 1 < args.Length: sundae = args[++i]; break;
        case "--nat" when i + 1 < args.Length: nat = args[++i]; break;
        case "--sizes" when i + 1 < args.Length: sizes = [.. args[++i].Split(',').Select(int.Parse)]; break;
        case "--window-silos" when i + 1 < args.Length: windowSilos = [.. args[++i].Split(',').Select(int.Parse)]; break;
        case "--forward-only": forwardOnly = true; break;
        default: Console.Error.WriteLine($"bench: unknown argument '{args[i]}'\n{Usage}"); return 1;
    }
}
return args[0] switch
{
    "binding" => BindingBench.Report(threads, reps ?? 30, rounds),
    "vqgan" => VqGanBench.Run(threads, batch, reps ?? 2),
    "canvas" => CanvasBench.Run(threads),
    "grid" => GridBench.Run(),
    "grid-overhead" => GridBench.Run(overheadOnly: true),
    "prior" => PriorBench.Run(threads, stepsB1, stepsB8),
    "schedules" => ScheduleBench.Run(count, canvases, models),
    "coordinator" => CoordinatorBench.Run(),
    "backbones" => BackboneBench.Run(forwardOnly),
    "recon" => ScheduleBench.Reconstructions(count, vqgan),
    "sundae" when sundae is not null => PeerPriorBench.Sundae(threads, count, canvases, models, sundae),
    "whole" when nat is not null => PeerPriorBench.Whole(threads, canvases, models, nat),
    "bigimage" => BigImageBench.Run(sizes, windowSilos),
    "batching" => BatchingBench.Run(threads),
    "mixed" => MixedLoadBench.Run(seconds ?? 60),
    "models" => MixedLoadBench.RunModels(jobs ?? 4),
    "training" => TrainingBench.Run(),
    _ => Fail(),
};

int Fail()
{
    Console.Error.WriteLine($"bench: unknown benchmark '{args[0]}'\n{Usage}");
    return 1;
}
