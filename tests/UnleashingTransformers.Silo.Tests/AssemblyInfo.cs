// Tests start processes that share two cores; running them one at a time keeps timings sane.
[assembly: Xunit.CollectionBehavior(DisableTestParallelization = true)]
