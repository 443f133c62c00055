using System.Globalization;

namespace MLNet.PromptTuning.Benchmarks.Datasets;

/// <summary>
/// The split lists of one VTAB-1k task in the layout most PEFT code bases read (NOAH's <c>get_vtab1k.py</c>, the
/// widely shared archive, FacT, CVPT): a task folder holding <c>train800.txt</c>, <c>val200.txt</c>,
/// <c>train800val200.txt</c> and <c>test.txt</c>, each line <c>&lt;image path relative to the task folder&gt;
/// &lt;0-based label&gt;</c>. The protocol tunes hyper-parameters with train800 → val200 and reports
/// train800val200 → test.
/// </summary>
/// <example>
/// <code>
/// var split = VtabSplit.Read("/data/vtab-1k/dtd");
/// using var train = ImageFileLoader.Load(split.Train800Val200, channels: 3, height: 224, width: 224);
/// </code>
/// </example>
public sealed class VtabSplit
{
    /// <summary>File name of the 800-image training list used for hyper-parameter search.</summary>
    public const string Train800File = "train800.txt";

    /// <summary>File name of the 200-image validation list used for hyper-parameter search.</summary>
    public const string Val200File = "val200.txt";

    /// <summary>File name of the 1,000-image list the final model trains on.</summary>
    public const string Train800Val200File = "train800val200.txt";

    /// <summary>File name of the test list.</summary>
    public const string TestFile = "test.txt";

    private VtabSplit(
        string taskDirectory, VtabTask? task, IReadOnlyList<LabeledImageFile> train800,
            IReadOnlyList<LabeledImageFile> val200,
        IReadOnlyList<LabeledImageFile> train800Val200, IReadOnlyList<LabeledImageFile> test)
    {
        TaskDirectory = taskDirectory;
        Name = Path.GetFileName(Path.TrimEndingDirectorySeparator(taskDirectory));
        Task = task;
        Train800 = train800;
        Val200 = val200;
        Train800Val200 = train800Val200;
        Test = test;
        NumberOfClasses = task?.NumberOfClasses
            ?? new[] { train800, val200, train800Val200, test }.SelectMany(s => s).Select(f => f.Label
                + 1).DefaultIfEmpty(0).Max();
    }

    /// <summary>The task folder.</summary>
    public string TaskDirectory { get; }

    /// <summary>The task folder's name.</summary>
    public string Name { get; }

    /// <summary>The catalogued task the folder name (or an alias) denotes, or null for an unknown folder
    /// name.</summary>
    public VtabTask? Task { get; }

    /// <summary>The train800 list; empty when the file is absent.</summary>
    public IReadOnlyList<LabeledImageFile> Train800 { get; }

    /// <summary>The val200 list; empty when the file is absent.</summary>
    public IReadOnlyList<LabeledImageFile> Val200 { get; }

    /// <summary>The train800val200 list (always present).</summary>
    public IReadOnlyList<LabeledImageFile> Train800Val200 { get; }

    /// <summary>The test list (always present).</summary>
    public IReadOnlyList<LabeledImageFile> Test { get; }

    /// <summary>True when both tuning lists (train800 and val200) are present and non-empty.</summary>
    public bool HasTuningSplits => Train800.Count > 0 && Val200.Count > 0;

    /// <summary>Classes of the task: the catalogue's count for a known task, else the largest label plus one.</summary>
    public int NumberOfClasses { get; }

    /// <summary>Reads the lists of one task folder.</summary>
    /// <param name="taskDirectory">The task folder (for example <c>vtab-1k/dtd</c>).</param>
    /// <param name="verifyFiles">When true (default), every listed image must exist.</param>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="FileNotFoundException"><c>train800val200.txt</c> or <c>test.txt</c> is missing, or a listed
    /// image is.</exception>
    /// <exception cref="InvalidDataException">A line is malformed, or a label is outside the task's class
    /// range.</exception>
    public static VtabSplit Read(string taskDirectory, bool verifyFiles = true)
    {
        ArgumentException.ThrowIfNullOrEmpty(taskDirectory);
        if (!Directory.Exists(taskDirectory))
        {
            throw new DirectoryNotFoundException($"VTAB-1k task folder '{taskDirectory}' does not exist.");
        }

        var name = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(taskDirectory)));
        var task = VtabTask.Find(name);
        int? classes = task?.NumberOfClasses;
        IReadOnlyList<LabeledImageFile> Optional(string file) =>
            File.Exists(Path.Combine(taskDirectory, file))
                ? ReadList(Path.Combine(taskDirectory, file), taskDirectory, classes, verifyFiles)
                : Array.Empty<LabeledImageFile>();
        IReadOnlyList<LabeledImageFile> Required(string file)
        {
            var path = Path.Combine(taskDirectory, file);
            if (!File.Exists(path))
            {
                throw new FileNotFoundException(
                    $"VTAB-1k task folder '{taskDirectory}' has no {file}; expected {Train800File}, {Val200File}, " +
                    $"{Train800Val200File} and {TestFile} (lines '<relative image path> <label>').", path);
            }

            return ReadList(path, taskDirectory, classes, verifyFiles);
        }

        return new VtabSplit(taskDirectory, task, Optional(Train800File), Optional(Val200File),
            Required(Train800Val200File),
            Required(TestFile));
    }

    /// <summary>
    /// The task folders under a VTAB-1k root (those holding <c>train800val200.txt</c> and <c>test.txt</c>), catalogued
    /// tasks first in the papers' order, then others by name. A root that is itself a task folder yields itself.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">The root does not exist.</exception>
    public static IReadOnlyList<string> FindTaskDirectories(string root)
    {
        ArgumentException.ThrowIfNullOrEmpty(root);
        if (!Directory.Exists(root))
        {
            throw new DirectoryNotFoundException($"VTAB-1k root '{root}' does not exist.");
        }

        static bool IsTask(string dir) =>
            File.Exists(Path.Combine(dir, Train800Val200File)) && File.Exists(Path.Combine(dir, TestFile));
        if (IsTask(root))
        {
            return new[] { root };
        }

        return Directory.GetDirectories(root).Where(IsTask)
            .OrderBy(d => VtabTask.Find(Path.GetFileName(d)) is { } t ? VtabTask.All.ToList().IndexOf(t) : int.MaxValue)
            .ThenBy(d => Path.GetFileName(d), StringComparer.Ordinal)
            .ToArray();
    }

    /// <summary>Parses one list file: lines <c>&lt;relative path&gt; &lt;label&gt;</c>, split at the last whitespace;
    /// blank lines are skipped.</summary>
    /// <param name="listFile">The list file.</param>
    /// <param name="baseDirectory">The folder the paths are relative to.</param>
    /// <param name="numberOfClasses">When given, labels must be below it.</param>
    /// <param name="verifyFiles">When true, every listed image must exist.</param>
    public static IReadOnlyList<LabeledImageFile> ReadList(
        string listFile, string baseDirectory, int? numberOfClasses = null, bool verifyFiles = true)
    {
        ArgumentException.ThrowIfNullOrEmpty(listFile);
        ArgumentException.ThrowIfNullOrEmpty(baseDirectory);
        var result = new List<LabeledImageFile>();
        int lineNumber = 0;
        int missing = 0;
        string? firstMissing = null;
        foreach (var raw in File.ReadLines(listFile))
        {
            lineNumber++;
            var line = raw.Trim();
            if (line.Length == 0)
            {
                continue;
            }

            int cut = line.LastIndexOfAny(new[] { ' ', '\t' });
            if (cut <= 0
                || !int.TryParse(line.AsSpan(cut + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var label))
            {
                throw new InvalidDataException(
                    $"{listFile}, line {lineNumber}: expected '<relative image path> <label>' with a non-negative " +
                    $"integer " +
                    $"label; got '{raw}'.");
            }

            if (numberOfClasses is { } n && label >= n)
            {
                throw new InvalidDataException(
                    $"{listFile}, line {lineNumber}: label {label} is outside 0..{n - 1} (the task has {n} classes).");
            }

            var relative = line[..cut].TrimEnd().Replace('\\', '/');
            var path = Path.GetFullPath(Path.Combine(baseDirectory, relative));
            if (verifyFiles && !File.Exists(path))
            {
                missing++;
                firstMissing ??= $"'{path}' (line {lineNumber})";
            }

            result.Add(new LabeledImageFile(path, label));
        }

        if (missing > 0)
        {
            throw new FileNotFoundException(
                $"{missing} image(s) listed in {listFile} do not exist; the first is {firstMissing}. Paths are " +
                $"relative " +
                "to the task folder.", firstMissing);
        }

        return result;
    }
}
