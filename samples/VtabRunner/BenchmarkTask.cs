using MLNet.PromptTuning.Benchmarks.Datasets;

namespace MLNet.PromptTuning.Samples.VtabRunner;

/// <summary>
/// One task under the protocol: the lists the search trains and validates on, the lists the final runs train and test
/// on, and how images are fitted. VTAB-1k: train800 → val200, then train800val200 → test, 224×224 squash, no
/// augmentation. FGVC: train → val, then train → test, shorter side 256 + centre crop 224, random horizontal flip.
/// </summary>
internal sealed record BenchmarkTask(
    string Name,
    string DisplayName,
    string Group,
    int NumberOfClasses,
    IReadOnlyList<LabeledImageFile> SearchTrain,
    IReadOnlyList<LabeledImageFile> SearchValidation,
    IReadOnlyList<LabeledImageFile> FinalTrain,
    IReadOnlyList<LabeledImageFile> Test,
    ImageFit Fit,
    bool HorizontalFlip)
{
    /// <summary>Report order of the groups.</summary>
    public static readonly string[] GroupOrder = { "Natural", "Specialized", "Structured", "FGVC", "Other" };

    /// <summary>The task folders under the root, filtered by <see cref="RunnerOptions.Tasks"/>, in report
    /// order.</summary>
    public static IReadOnlyList<string> Find(RunnerOptions o)
    {
        var all = o.Benchmark == "vtab" ? VtabSplit.FindTaskDirectories(o.Root)
            : FgvcSplit.FindDatasetDirectories(o.Root);
        if (all.Count == 0)
        {
            throw new ArgumentException(o.Benchmark == "vtab"
                ? $"No VTAB-1k task folder (with {VtabSplit.Train800Val200File} and {VtabSplit.TestFile}) under " +
                    $"'{o.Root}'."
                : $"No FGVC dataset folder (with {FgvcSplit.TrainFile} and {FgvcSplit.TestFile}) under '{o.Root}'.");
        }

        if (o.Tasks.Count == 0)
        {
            return all;
        }

        string Canonical(string name) => o.Benchmark == "vtab" ? VtabTask.Find(name)?.Name ?? name : name;
        var wanted = o.Tasks.Select(Canonical).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var chosen = all.Where(d => wanted.Contains(Canonical(Path.GetFileName(d)))).ToArray();
        var missing = wanted.Except(chosen.Select(d => Canonical(Path.GetFileName(d))),
            StringComparer.OrdinalIgnoreCase).ToList();
        if (missing.Count > 0)
        {
            throw new ArgumentException(
                $"--tasks names {string.Join(", ", missing)}, not found under '{o.Root}'; found: " +
                string.Join(", ", all.Select(Path.GetFileName)) + ".");
        }

        return chosen;
    }

    /// <summary>Reads one task folder's lists (checking that every image exists).</summary>
    public static BenchmarkTask Load(string directory, RunnerOptions o)
    {
        if (o.Benchmark == "vtab")
        {
            var split = VtabSplit.Read(directory);
            return new BenchmarkTask(
                split.Task?.Name ?? split.Name,
                split.Task?.DisplayName ?? split.Name,
                split.Task?.Group.ToString() ?? "Other",
                split.NumberOfClasses,
                Take(split.Train800, o.MaxTrain),
                split.Val200,
                Take(split.Train800Val200, o.MaxTrain),
                Take(split.Test, o.MaxTest),
                ImageFit.Stretch,
                HorizontalFlip: false);
        }

        var fgvc = FgvcSplit.Read(directory);
        return new BenchmarkTask(
            fgvc.Name,
            fgvc.Name,
            "FGVC",
            fgvc.NumberOfClasses,
            Take(fgvc.Train, o.MaxTrain),
            fgvc.Validation,
            Take(fgvc.Train, o.MaxTrain),
            Take(fgvc.Test, o.MaxTest),
            ImageFit.CenterCrop,
            HorizontalFlip: true);
    }

    private static IReadOnlyList<LabeledImageFile> Take(IReadOnlyList<LabeledImageFile> files, int max) =>
        max > 0 && files.Count > max ? files.Take(max).ToArray() : files;
}
