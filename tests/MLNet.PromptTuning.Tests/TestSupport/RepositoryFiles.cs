namespace MLNet.PromptTuning.Tests.TestSupport;

/// <summary>Files of the repository the tests run from (found by walking up to the solution file).</summary>
internal static class RepositoryFiles
{
    public static string Root { get; } = FindRoot();

    public static string ReadAllText(string relativePath) => File.ReadAllText(Path.Combine(Root, relativePath));

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(
            AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "MLNet.PromptTuning.sln")))
            {
                return directory.FullName;
            }
        }

        throw new DirectoryNotFoundException($"No MLNet.PromptTuning.sln above {AppContext.BaseDirectory}.");
    }
}
