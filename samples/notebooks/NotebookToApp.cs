// Converts the C# code cells of a Polyglot (.NET Interactive) notebook into a .NET file-based app, so CI can run a
// notebook's code without a notebook kernel (none can be installed where this project is built).
//   dotnet run samples/notebooks/NotebookToApp.cs -- <notebook.ipynb> <output.cs>
// Rules: `#r "nuget: MLNet.PromptTuning..."` becomes a project reference to the library; `#r "nuget:
// TorchSharp-cpu..."` selects the native backend; other `#r`/`#i` lines become comments (their packages come with the
// library); `using` lines move to the top; cells that declare types go last; `display`/`HTML` get a console shim that
// writes HTML outputs to files; the app runs in the notebook's folder so relative paths resolve as in the notebook.
#:property PublishAot=false
using System.Text;
using System.Text.Json;

if (args.Length != 2)
{
    Console.Error.WriteLine("usage: dotnet run NotebookToApp.cs -- <notebook.ipynb> <output.cs>");
    return 2;
}

string notebookPath = Path.GetFullPath(args[0]);
string outputPath = Path.GetFullPath(args[1]);
string notebookFolder = Path.GetDirectoryName(notebookPath)!;
string outputFolder = Path.GetDirectoryName(outputPath)!;
string libraryProject = Path.GetFullPath(Path.Combine(notebookFolder,
    "../../src/MLNet.PromptTuning/MLNet.PromptTuning.csproj"));

using var document = JsonDocument.Parse(File.ReadAllText(notebookPath));
var usings = new SortedSet<string>(StringComparer.Ordinal);
var directives = new List<string>
{
    "#:property PublishAot=false",
    "#:property TreatWarningsAsErrors=false",
    "#:property Nullable=disable",
    $"#:project {Path.GetRelativePath(outputFolder, libraryProject).Replace('\\', '/')}",
};
var statements = new StringBuilder();
var declarations = new StringBuilder();
int cellNumber = 0;
foreach (var cell in document.RootElement.GetProperty("cells").EnumerateArray())
{
    if (cell.GetProperty("cell_type").GetString() != "code" || !IsCSharp(cell))
    {
        continue;
    }

    cellNumber++;
    var body = new StringBuilder();
    foreach (var line in ReadSource(cell).Split('\n'))
    {
        string trimmed = line.TrimEnd('\r');
        if (trimmed.StartsWith("#r \"nuget:", StringComparison.Ordinal) && trimmed.Contains("TorchSharp-cpu"))
        {
            directives.Add("#:property UsesTorchNativeBackend=true");
        }
        else if (trimmed.StartsWith("#r ", StringComparison.Ordinal)
            || trimmed.StartsWith("#i ", StringComparison.Ordinal) ||
                 trimmed.StartsWith("#!", StringComparison.Ordinal))
        {
            body.AppendLine("// notebook directive: " + trimmed);
        }
        else if (trimmed.StartsWith("using ", StringComparison.Ordinal) && trimmed.EndsWith(';')
            && !trimmed.Contains('('))
        {
            usings.Add(trimmed);
        }
        else
        {
            body.AppendLine(trimmed);
        }
    }

    string code = body.ToString();
    bool declaresTypes = code.TrimStart().StartsWith("public ", StringComparison.Ordinal) ||
                         code.TrimStart().StartsWith("record ", StringComparison.Ordinal) ||
                         code.TrimStart().StartsWith("class ", StringComparison.Ordinal);
    (declaresTypes ? declarations : statements).AppendLine($"// ---- cell {cellNumber} ----").Append(code);
}

var output = new StringBuilder();
foreach (var directive in directives.Distinct())
{
    output.AppendLine(directive);
}

output.AppendLine("// Generated from " + Path.GetFileName(notebookPath) + " by NotebookToApp.cs; do not edit.");
foreach (var u in usings)
{
    output.AppendLine(u);
}

output.AppendLine($"System.IO.Directory.SetCurrentDirectory(@\"{notebookFolder}\");");
output.Append(statements);
output.AppendLine("// ---- notebook shims ----");
output.AppendLine("""
static void display(object value)
{
    if (value is NotebookHtml html)
    {
        System.IO.Directory.CreateDirectory("output");
        string path = System.IO.Path.Combine("output", $"display-{++NotebookHtml.Count}.html");
        System.IO.File.WriteAllText(path, html.Content);
        Console.WriteLine($"[display: HTML written to {System.IO.Path.GetFullPath(path)}]");
    }
    else
    {
        Console.WriteLine(value);
    }
}

static NotebookHtml HTML(string content) => new(content);

sealed record NotebookHtml(string Content)
{
    public static int Count;
}
""");
output.Append(declarations);
Directory.CreateDirectory(outputFolder);
File.WriteAllText(outputPath, output.ToString());
Console.WriteLine($"Wrote {outputPath} from {cellNumber} code cells.");
return 0;

static bool IsCSharp(JsonElement cell)
{
    if (!cell.TryGetProperty("metadata", out var metadata))
    {
        return true;
    }

    if (metadata.TryGetProperty("polyglot_notebook", out var polyglot) &&
        polyglot.TryGetProperty("kernelName", out var kernel))
    {
        return kernel.GetString() == "csharp";
    }

    return !metadata.TryGetProperty("dotnet_interactive", out var interactive) ||
           !interactive.TryGetProperty("language", out var language) || language.GetString() == "csharp";
}

static string ReadSource(JsonElement cell)
{
    var source = cell.GetProperty("source");
    return source.ValueKind == JsonValueKind.Array
        ? string.Concat(source.EnumerateArray().Select(s => s.GetString()))
        : source.GetString() ?? string.Empty;
}
