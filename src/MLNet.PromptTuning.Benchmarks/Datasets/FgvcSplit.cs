using System.Text.Json;

namespace MLNet.PromptTuning.Benchmarks.Datasets;

/// <summary>
/// The splits of one FGVC dataset in VPT's format: <c>train.json</c>, <c>val.json</c> and <c>test.json</c> in the
/// dataset folder, each a JSON object <c>{ "&lt;image path relative to the image folder&gt;": &lt;class id&gt; }</c>.
/// Class ids (often 1-based) become contiguous labels 0..C−1 in sorted order, as VPT's loader does.
/// </summary>
/// <remarks>
/// VPT sorts the ids of each split on its own; here the ids of all splits are sorted together, which is the same
/// whenever every split holds every class (true for the published splits) and keeps labels consistent otherwise.
/// The image folder is found from the first training key: the dataset folder itself (Flowers, Cars), or its
/// <c>images</c> (CUB, NABirds) or <c>Images</c> (Stanford Dogs) subfolder.
/// </remarks>
public sealed class FgvcSplit
{
    /// <summary>File name of the training split.</summary>
    public const string TrainFile = "train.json";

    /// <summary>File name of the validation split.</summary>
    public const string ValidationFile = "val.json";

    /// <summary>File name of the test split.</summary>
    public const string TestFile = "test.json";

    private FgvcSplit(string root, string imageDirectory, IReadOnlyList<int> classIds,
        IReadOnlyList<LabeledImageFile> train,
        IReadOnlyList<LabeledImageFile> validation, IReadOnlyList<LabeledImageFile> test)
    {
        Root = root;
        Name = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(root)));
        ImageDirectory = imageDirectory;
        ClassIds = classIds;
        Train = train;
        Validation = validation;
        Test = test;
    }

    /// <summary>The dataset folder holding the json files.</summary>
    public string Root { get; }

    /// <summary>The dataset folder's name.</summary>
    public string Name { get; }

    /// <summary>The folder the json keys are relative to.</summary>
    public string ImageDirectory { get; }

    /// <summary>The original class ids in label order: label i stands for <c>ClassIds[i]</c>.</summary>
    public IReadOnlyList<int> ClassIds { get; }

    /// <summary>Number of classes C.</summary>
    public int NumberOfClasses => ClassIds.Count;

    /// <summary>The training split.</summary>
    public IReadOnlyList<LabeledImageFile> Train { get; }

    /// <summary>The validation split; empty when <c>val.json</c> is absent.</summary>
    public IReadOnlyList<LabeledImageFile> Validation { get; }

    /// <summary>The test split.</summary>
    public IReadOnlyList<LabeledImageFile> Test { get; }

    /// <summary>Reads the splits of one dataset folder.</summary>
    /// <param name="root">The dataset folder holding <c>train.json</c> and <c>test.json</c> (and usually
    /// <c>val.json</c>).</param>
    /// <param name="imageDirectory">
    /// The folder the keys are relative to (absolute, or relative to <paramref name="root"/>); null (default) finds it.
    /// </param>
    /// <param name="verifyFiles">When true (default), every listed image must exist.</param>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="FileNotFoundException">A required json file, the image folder or a listed image is
    /// missing.</exception>
    /// <exception cref="InvalidDataException">A json file is not an object of path → integer class id.</exception>
    public static FgvcSplit Read(string root, string? imageDirectory = null, bool verifyFiles = true)
    {
        ArgumentException.ThrowIfNullOrEmpty(root);
        if (!Directory.Exists(root))
        {
            throw new DirectoryNotFoundException($"FGVC dataset folder '{root}' does not exist.");
        }

        var train = ReadJson(root, TrainFile, required: true);
        var validation = ReadJson(root, ValidationFile, required: false);
        var test = ReadJson(root, TestFile, required: true);
        if (train.Count == 0)
        {
            throw new InvalidDataException($"{Path.Combine(root, TrainFile)} lists no images.");
        }

        var images = ResolveImageDirectory(root, imageDirectory, train[0].Key);
        var ids = train.Concat(validation).Concat(test).Select(e => e.Value).Distinct().Order().ToArray();
        var labelOf = ids.Select((id, label) => (id, label)).ToDictionary(p => p.id, p => p.label);

        IReadOnlyList<LabeledImageFile> Map(List<KeyValuePair<string, int>> entries, string file)
        {
            var result = new List<LabeledImageFile>(entries.Count);
            int missing = 0;
            string? first = null;
            foreach (var (key, id) in entries)
            {
                var path = Path.GetFullPath(Path.Combine(images, key.Replace('\\', '/')));
                if (verifyFiles && !File.Exists(path))
                {
                    missing++;
                    first ??= path;
                }

                result.Add(new LabeledImageFile(path, labelOf[id]));
            }

            if (missing > 0)
            {
                throw new FileNotFoundException(
                    $"{missing} image(s) listed in {Path.Combine(root, file)} do not exist under '{images}'; the " +
                    $"first is '{first}'.",
                    first);
            }

            return result;
        }

        return new FgvcSplit(root, images, ids, Map(train, TrainFile), Map(validation, ValidationFile),
            Map(test, TestFile));
    }

    /// <summary>
    /// The dataset folders under an FGVC root (those holding <c>train.json</c> and <c>test.json</c>), by name. A root
    /// that is itself a dataset folder yields itself.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">The root does not exist.</exception>
    public static IReadOnlyList<string> FindDatasetDirectories(string root)
    {
        ArgumentException.ThrowIfNullOrEmpty(root);
        if (!Directory.Exists(root))
        {
            throw new DirectoryNotFoundException($"FGVC root '{root}' does not exist.");
        }

        static bool IsDataset(string dir) => File.Exists(Path.Combine(dir, TrainFile))
            && File.Exists(Path.Combine(dir, TestFile));
        return IsDataset(root)
            ? new[] { root }
            : Directory.GetDirectories(root).Where(IsDataset).OrderBy(d => Path.GetFileName(d),
                StringComparer.Ordinal).ToArray();
    }

    private static List<KeyValuePair<string, int>> ReadJson(string root, string file, bool required)
    {
        var path = Path.Combine(root, file);
        if (!File.Exists(path))
        {
            if (required)
            {
                throw new FileNotFoundException(
                    $"FGVC dataset folder '{root}' has no {file}; expected {TrainFile}, {ValidationFile} and " +
                    $"{TestFile} " +
                    "(VPT's split files: objects of \"relative/image/path\": class id).", path);
            }

            return new List<KeyValuePair<string, int>>();
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(File.ReadAllBytes(path));
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path} is not valid JSON: {e.Message}", e);
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidDataException(
                    $"{path} must be a JSON object of \"relative/image/path\": class id; got a " +
                    $"{document.RootElement.ValueKind}.");
            }

            var entries = new List<KeyValuePair<string, int>>();
            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (property.Value.ValueKind != JsonValueKind.Number || !property.Value.TryGetInt32(out var id)
                    || id < 0)
                {
                    throw new InvalidDataException(
                        $"{path}: the class id of '{property.Name}' must be a non-negative integer; got " +
                        $"{property.Value.GetRawText()}.");
                }

                entries.Add(new KeyValuePair<string, int>(property.Name, id));
            }

            return entries;
        }
    }

    private static string ResolveImageDirectory(string root, string? imageDirectory, string firstKey)
    {
        if (imageDirectory is not null)
        {
            var explicitDir = Path.GetFullPath(Path.Combine(root, imageDirectory));
            if (!Directory.Exists(explicitDir))
            {
                throw new DirectoryNotFoundException($"FGVC image folder '{explicitDir}' does not exist.");
            }

            return explicitDir;
        }

        var candidates = new[] { root, Path.Combine(root, "images"), Path.Combine(root, "Images") }
            .Select(Path.GetFullPath).Distinct().ToArray();
        return candidates.FirstOrDefault(c => File.Exists(Path.Combine(c, firstKey))) ??
            throw new FileNotFoundException(
                $"Cannot find '{firstKey}' (the first key of {TrainFile}) under any of: " +
                $"{string.Join(", ", candidates)}. " +
                "Pass the image folder explicitly.", firstKey);
    }
}
