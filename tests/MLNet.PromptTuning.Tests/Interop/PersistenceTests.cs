using System.Diagnostics;
using System.IO.Compression;
using System.Runtime.InteropServices;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.PromptTuning.Tests.TestSupport;
using Xunit;

namespace MLNet.PromptTuning.Tests.Interop;

public sealed class PersistenceTests
{
    private sealed class IntLabelRow
    {
        public string Path { get; set; } = string.Empty;

        public int Label { get; set; }
    }

    [Fact]
    public void SavedPipelineLoadsInAFreshProcessWithoutRegisterAssemblyAndScoresBitIdentically()
    {
        using var threads = new TorchThreadScope();
        var ml = new MLContext(seed: 1);
        using TestImageSet images = TestImageSet.Create(7);
        IDataView data = ml.Data.LoadFromTextFile<ImageRow>(images.WriteTsv(), hasHeader: true, separatorChar: '\t');
        ITransformer model = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.LoadRawImageBytes("Bytes", images.Folder, "Path"))
            .Append(ml.Transforms.LoadImages("Image", images.Folder, "Path"))
            .Append(ml.Transforms.ResizeImages("Image", 4, 3))
            .Append(new PixelMeanLinearEstimator(ml, batchSize: 3))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabelValue", "PredictedLabel"))
            .Fit(data);
        IDataView scored = model.Transform(data);
        string[] expectedScores = ScoreReading.ReadVectors(scored, "Score").Select(ScoreReading.Bits).ToArray();
        string modelPath = Path.Combine(images.Folder, "model.zip");
        ml.Model.Save(model, data.Schema, modelPath);

        // The scorer's own entries sit beside Model.key in the transform's folder.
        using (ZipArchive zip = ZipFile.OpenRead(modelPath))
        {
            string[] entries = zip.Entries.Select(e => e.FullName.Replace('\\', '/')).ToArray();
            Assert.Contains("TransformerChain/Transform_004/Weights.bin", entries);
            Assert.Contains("TransformerChain/Transform_004/LabelKeyValues.bin", entries);
        }

        string output = Path.Combine(images.Folder, "fresh-process.txt");
        RunFreshProcess(SavedModelScorer.Command, modelPath, images.WriteTsv(), images.Folder, output,
            threads.Threads.ToString(System.Globalization.CultureInfo.InvariantCulture));
        string[] lines = File.ReadAllLines(output);

        Assert.Equal("library-loaded-before-load=False", lines[0]);
        Assert.Equal("library-loaded-after-load=True", lines[1]);
        Assert.Equal(expectedScores,
            lines.Where(l => l.StartsWith("score=", StringComparison.Ordinal)).Select(l => l[6..]));
        Assert.Equal(images.Rows.Select(r => r.Label),
            lines.Where(l => l.StartsWith("predicted=", StringComparison.Ordinal)).Select(l => l[10..]));
        Assert.Equal("engine-score=" + expectedScores[0],
            lines.Single(l => l.StartsWith("engine-score=", StringComparison.Ordinal)));
        Assert.Equal("micro-accuracy=1", lines.Single(l => l.StartsWith("micro-accuracy=", StringComparison.Ordinal)));
    }

    [Fact]
    public void NonTextKeyValuesAndAllSettingsSurviveReloadInAFreshContext()
    {
        var ml = new MLContext(seed: 1);
        using TestImageSet images = TestImageSet.Create(6);
        int[] codes = { -4, 11, 250 };
        IDataView data = ml.Data.LoadFromEnumerable(images.Rows.Select((r, i) =>
            new IntLabelRow { Path = r.Path, Label = codes[i % 3] }));
        ITransformer model = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.LoadImages("Photo", images.Folder, "Path"))
            .Append(new PixelMeanLinearEstimator(ml, "Photo", batchSize: 5,
                new MLNet.PromptTuning.Data.ImageInputSpec(Channels: 1)))
            .Fit(data);
        IDataView before = model.Transform(data);

        using var stream = new MemoryStream();
        ml.Model.Save(model, data.Schema, stream);
        stream.Position = 0;
        var fresh = new MLContext(seed: 7);
        ITransformer loaded = fresh.Model.Load(stream, out _);
        IDataView after = loaded.Transform(data);

        var transformer = ((TransformerChain<ITransformer>)loaded).OfType<PixelMeanLinearTransformer>().Single();
        Assert.Equal(new MLNet.PromptTuning.Interop.ImageScoringSettings("Photo", "Score", "PredictedLabel", 5,
            new MLNet.PromptTuning.Data.ImageInputSpec(Channels: 1)), transformer.Core.Settings);
        foreach (string column in new[] { "Score", "PredictedLabel" })
        {
            Assert.Equal(before.Schema[column].Type, after.Schema[column].Type);
            Assert.Equal(AnnotationText.Describe(before.Schema[column]), AnnotationText.Describe(after.Schema[column]));
        }

        Assert.Contains("KeyValues: Vector<Int32, 3> = [-4, 11, 250]",
            AnnotationText.Describe(after.Schema["PredictedLabel"]));
        Assert.Equal(ScoreReading.ReadVectors(before, "Score").Select(ScoreReading.Bits),
            ScoreReading.ReadVectors(after, "Score").Select(ScoreReading.Bits));
    }

    /// <summary>
    /// Runs this test assembly as a console program (see Program.cs) in a new process: a fresh runtime, a fresh
    /// MLContext, the same dependency set as the tests.
    /// </summary>
    internal static void RunFreshProcess(params string[] arguments)
    {
        var start = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(typeof(PersistenceTests).Assembly.Location);
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using Process process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(3)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail("The fresh process did not finish within 3 minutes.");
        }

        Assert.True(process.ExitCode == 0,
            $"The fresh process exited with {process.ExitCode}.\nstdout:\n{stdout.Result}\nstderr:\n{stderr.Result}");
    }

    internal static string DotnetHost()
    {
        string? current = Environment.ProcessPath;
        if (current is not null && Path.GetFileNameWithoutExtension(current) == "dotnet")
        {
            return current;
        }

        string? fromSdk = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(fromSdk) && File.Exists(fromSdk))
        {
            return fromSdk;
        }

        // <root>/shared/Microsoft.NETCore.App/<version>/ -> <root>/dotnet
        string root = Path.GetFullPath(Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", ".."));
        string host = Path.Combine(root, OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet");
        return File.Exists(host) ? host : "dotnet";
    }
}
