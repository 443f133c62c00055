namespace MLNet.PromptTuning.Tests.Reliability;

/// <summary>
/// A writer under the kill-during-save test: how to save generation <c>g</c> of something to a path, and how to read
/// back which generation a path holds (throwing if what is there is not one complete, valid save). The writers under
/// test are listed in <see cref="SaveTargets"/>.
/// </summary>
/// <param name="Name">A unique name, used on the child's command line.</param>
/// <param name="FileName">The file (or folder) name the writer is given inside the test's folder.</param>
/// <param name="Save">Saves generation <c>g</c> to the path; called over and over by the child.</param>
/// <param name="ReadGeneration">Loads the path through the public API and returns its generation.</param>
/// <param name="FindTemporaries">
/// The staging files or folders that saves to the path leave when killed, for a writer that does not keep them beside
/// the path as <c>.{FileName}.*.tmp</c> (the default when this is null).
/// </param>
internal sealed record SaveTarget(
    string Name,
    string FileName,
    Action<string, int> Save,
    Func<string, int> ReadGeneration,
    Func<string, List<string>>? FindTemporaries = null);
