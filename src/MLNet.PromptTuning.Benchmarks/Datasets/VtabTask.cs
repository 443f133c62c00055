namespace MLNet.PromptTuning.Benchmarks.Datasets;

/// <summary>
/// One of VTAB-1k's 19 tasks: its folder name in the common layout (NOAH's <c>get_vtab1k.py</c> and the widely shared
/// archive), its group and its number of classes. <see cref="All"/> lists them in the papers' column order.
/// </summary>
/// <param name="Name">Folder name, for example <c>cifar</c> or <c>oxford_iiit_pet</c>.</param>
/// <param name="DisplayName">Name in the papers' tables, for example <c>CIFAR-100</c>.</param>
/// <param name="Group">Natural, Specialized or Structured.</param>
/// <param name="NumberOfClasses">Classes of the task; labels are 0..NumberOfClasses-1.</param>
/// <param name="Aliases">Other folder names the task is found under (matched case-insensitively).</param>
public sealed record VtabTask(string Name, string DisplayName, VtabGroup Group, int NumberOfClasses,
    IReadOnlyList<string> Aliases)
{
    /// <summary>The 19 tasks, in the order of the papers' tables.</summary>
    public static IReadOnlyList<VtabTask> All { get; } = new VtabTask[]
    {
        new("cifar", "CIFAR-100", VtabGroup.Natural, 100, new[] { "cifar100", "cifar-100" }),
        new("caltech101", "Caltech101", VtabGroup.Natural, 102, Array.Empty<string>()),
        new("dtd", "DTD", VtabGroup.Natural, 47, Array.Empty<string>()),
        new("oxford_flowers102", "Flowers102", VtabGroup.Natural, 102, new[] { "flowers102", "flowers" }),
        new("oxford_iiit_pet", "Pets", VtabGroup.Natural, 37, new[] { "oxford_pet", "pets" }),
        new("svhn", "SVHN", VtabGroup.Natural, 10, Array.Empty<string>()),
        new("sun397", "Sun397", VtabGroup.Natural, 397, Array.Empty<string>()),
        new("patch_camelyon", "Camelyon", VtabGroup.Specialized, 2, new[] { "camelyon" }),
        new("eurosat", "EuroSAT", VtabGroup.Specialized, 10, Array.Empty<string>()),
        new("resisc45", "Resisc45", VtabGroup.Specialized, 45, Array.Empty<string>()),
        new("diabetic_retinopathy", "Retinopathy", VtabGroup.Specialized, 5, new[] { "retinopathy" }),
        new("clevr_count", "Clevr-Count", VtabGroup.Structured, 8, Array.Empty<string>()),
        new("clevr_dist", "Clevr-Dist", VtabGroup.Structured, 6, Array.Empty<string>()),
        new("dmlab", "DMLab", VtabGroup.Structured, 6, Array.Empty<string>()),
        new("kitti", "KITTI-Dist", VtabGroup.Structured, 4, Array.Empty<string>()),
        new("dsprites_loc", "dSpr-Loc", VtabGroup.Structured, 16, Array.Empty<string>()),
        new("dsprites_ori", "dSpr-Ori", VtabGroup.Structured, 16, Array.Empty<string>()),
        new("smallnorb_azi", "sNORB-Azim", VtabGroup.Structured, 18, Array.Empty<string>()),
        new("smallnorb_ele", "sNORB-Elev", VtabGroup.Structured, 9, Array.Empty<string>()),
    };

    /// <summary>The task whose name or alias is <paramref name="name"/> (case-insensitive), or null.</summary>
    public static VtabTask? Find(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return All.FirstOrDefault(t => string.Equals(t.Name, name, StringComparison.OrdinalIgnoreCase) ||
            t.Aliases.Any(a => string.Equals(a, name, StringComparison.OrdinalIgnoreCase)));
    }
}
