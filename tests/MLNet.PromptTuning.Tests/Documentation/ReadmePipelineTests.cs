using System.Reflection;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.ML;
using MLNet.PromptTuning.Tests.TestSupport;
using Xunit;

namespace MLNet.PromptTuning.Tests.Documentation;

/// <summary>
/// The README's "A complete pipeline" block, taken from README.md as it stands, compiled the way a reader's
/// <c>dotnet new console</c> project compiles it (implicit usings, nullable enabled, warnings as errors) and run on a
/// few of the embedded images with the embedded backbone.
/// </summary>
[Collection(ReadmePipelineCollection.Name)]
public sealed class ReadmePipelineTests : IDisposable
{
    private const string Heading = "## A complete pipeline";

    // The global usings the .NET SDK adds to a console project with ImplicitUsings enabled.
    private const string ImplicitUsings = """
        global using global::System;
        global using global::System.Collections.Generic;
        global using global::System.IO;
        global using global::System.Linq;
        global using global::System.Net.Http;
        global using global::System.Threading;
        global using global::System.Threading.Tasks;
        """;

    private readonly string _directory = Directory.CreateTempSubdirectory("readme-pipeline-").FullName;

    private static string Assets => Path.Combine(AppContext.BaseDirectory, "EmbeddedAssets");

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void TheReadmePipelineCompilesWithWarningsAsErrorsAndRunsOnTheEmbeddedAssets()
    {
        // NumberOfThreads is left unset by the README; the scope pins the count the run inherits and restores it.
        using var threads = new TorchThreadScope(TorchThreadScope.Fixed);
        string source = CodeBlockAfter(RepositoryFiles.ReadAllText("README.md"), Heading);
        Assembly program = Compile(source);

        string images = CopyImages(trainPerClass: 4, testPerClass: 2, classes: 3);
        string modelPath = Path.Combine(_directory, "model.zip");
        string output = Run(program, images, Path.Combine(Assets, "backbone", "model.safetensors"), modelPath);

        Assert.Contains("accuracy ", output);
        Assert.Contains("10 epochs, last training loss", output);  // the trained model's history, read without '!'
        Assert.True(File.Exists(modelPath), output);
        var loaded = (IEnumerable<ITransformer>)new MLContext().Model.Load(modelPath, out _);
        using var reloaded = loaded.OfType<PromptViTTransformer>().Single();
        Assert.Empty(reloaded.TrainingResult.History);             // a loaded model: an empty history, not null
        Assert.Matches(@"test[/\\][^:]+: [^(]+ \(p = \d", output);        // class names may contain spaces
    }

    /// <summary>The first <c>```csharp</c> block after <paramref name="heading"/>.</summary>
    private static string CodeBlockAfter(string markdown, string heading)
    {
        int at = markdown.IndexOf(heading, StringComparison.Ordinal);
        Assert.True(at >= 0, $"README.md has no '{heading}' section.");
        const string Fence = "```csharp\n";
        int start = markdown.IndexOf(Fence, at, StringComparison.Ordinal) + Fence.Length;
        int end = markdown.IndexOf("\n```", start, StringComparison.Ordinal);
        return markdown[start..end];
    }

    private static Assembly Compile(string source)
    {
        var parse = new CSharpParseOptions(LanguageVersion.Latest);
        var trees = new[]
        {
            CSharpSyntaxTree.ParseText(source, parse, "README.md"),
            CSharpSyntaxTree.ParseText(ImplicitUsings, parse, "GlobalUsings.g.cs"),
        };
        string self = typeof(ReadmePipelineTests).Assembly.Location;
        var references = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!)
            .Split(Path.PathSeparator)
            .Where(path => path.EndsWith(".dll", StringComparison.OrdinalIgnoreCase) && path != self)
            .Select(path => MetadataReference.CreateFromFile(path));
        var options = new CSharpCompilationOptions(OutputKind.ConsoleApplication,
                nullableContextOptions: NullableContextOptions.Enable,
                generalDiagnosticOption: ReportDiagnostic.Error)
            // What the SDK suppresses in every build: binding-redirect notes about assembly versions.
            .WithSpecificDiagnosticOptions(new Dictionary<string, ReportDiagnostic>
            {
                ["CS1701"] = ReportDiagnostic.Suppress,
                ["CS1702"] = ReportDiagnostic.Suppress,
            });
        var compilation = CSharpCompilation.Create("ReadmePipeline", trees, references, options);
        using var image = new MemoryStream();
        var result = compilation.Emit(image);
        Assert.True(result.Success, "The README's pipeline does not compile:\n" + string.Join("\n",
            result.Diagnostics.Where(d => d.Severity >= DiagnosticSeverity.Warning)));
        return Assembly.Load(image.ToArray());
    }

    /// <summary>Runs the program's entry point and returns what it wrote to the console.</summary>
    private static string Run(Assembly program, params string[] args)
    {
        var console = new StringWriter();
        TextWriter original = Console.Out;
        Console.SetOut(console);
        try
        {
            program.EntryPoint!.Invoke(null, new object[] { args });
        }
        finally
        {
            Console.SetOut(original);
        }

        return console.ToString();
    }

    /// <summary>A few images per class of the embedded set, in its train/ and test/ layout.</summary>
    private string CopyImages(int trainPerClass, int testPerClass, int classes)
    {
        string root = Path.Combine(_directory, "images");
        string source = Path.Combine(Assets, "fashion-mnist-unseen");
        foreach (var (split, count) in new[] { ("train", trainPerClass), ("test", testPerClass) })
        {
            foreach (string classFolder in Directory.GetDirectories(Path.Combine(source, split)).Order().Take(classes))
            {
                string target = Path.Combine(root, split, Path.GetFileName(classFolder));
                Directory.CreateDirectory(target);
                foreach (string file in Directory.GetFiles(classFolder).Order().Take(count))
                {
                    File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
                }
            }
        }

        return root;
    }
}

/// <summary>
/// The README program writes to the console, which the test captures process-wide with <c>Console.SetOut</c>: it runs
/// alone, so no other test's output lands in (or is lost from) the capture.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ReadmePipelineCollection
{
    public const string Name = "README pipeline (console capture)";
}
