namespace MLNet.PromptTuning.Samples;

/// <summary>Locates the repository, so the samples read and write <c>samples/Assets</c> from any working
/// directory.</summary>
public static class RepoPaths
{
    private const string SolutionFile = "MLNet.PromptTuning.sln";

    /// <summary>
    /// The closest folder holding the solution file, searched upwards from the working directory and then from the
    /// program's own folder.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">Neither is inside the repository.</exception>
    public static string FindRoot()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, SolutionFile)))
                {
                    return dir.FullName;
                }
            }
        }

        throw new DirectoryNotFoundException(
            $"Could not find {SolutionFile} above the working directory or the program; run from the repository or " +
            $"pass --out.");
    }

    /// <summary>The embedded backbone's folder, <c>samples/Assets/backbone</c>.</summary>
    public static string BackboneDirectory(string root) => Path.Combine(root, "samples", "Assets", "backbone");

    /// <summary>The embedded backbone file.</summary>
    public static string BackboneFile(string root) => Path.Combine(BackboneDirectory(root), "model.safetensors");
}
