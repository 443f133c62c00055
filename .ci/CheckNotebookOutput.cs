// Reads a notebook that dotnet-repl ran (--output-path) and fails on the first code cell that raised an error, that
// did not run, or whose source differs from the notebook in the repository. Prints each cell's text output, so the
// CI log shows what the notebook printed. Usage: dotnet run CheckNotebookOutput.cs -- <source.ipynb> <ran.ipynb>
using System.Globalization;
using System.Text.Json.Nodes;

if (args.Length != 2)
{
    Console.Error.WriteLine("usage: CheckNotebookOutput.cs <source.ipynb> <ran.ipynb>");
    return 2;
}

var source = CodeCells(args[0]);
var ran = CodeCells(args[1]);
if (source.Count != ran.Count)
{
    return Fail($"{args[1]} has {ran.Count} code cells, {args[0]} has {source.Count}.");
}

var charts = 0;
for (var i = 0; i < ran.Count; i++)
{
    var cell = ran[i];
    var text = Text(cell["source"]);
    var title = $"code cell {i + 1} ({text.Split('\n')[0].Trim()})";
    if (text != Text(source[i]["source"]))
    {
        return Fail($"{title}: its source differs from {args[0]}; the notebook must run unmodified.");
    }

    var metadata = cell["metadata"];
    if (metadata?["dotnet_repl_cellExecutionEndTime"] is null)
    {
        return Fail($"{title} did not run.");
    }

    var started = Time(metadata["dotnet_repl_cellExecutionStartTime"]);
    var seconds = (Time(metadata["dotnet_repl_cellExecutionEndTime"]) - started).TotalSeconds;
    Console.WriteLine($"-- {title}: {seconds:F1} s");
    foreach (var output in cell["outputs"]?.AsArray() ?? [])
    {
        switch ((string?)output?["output_type"])
        {
            case "error":
                return Fail($"{title} failed: {output!["ename"]}: {output["evalue"]}");
            case "stream":
                Console.Write(Indent(Text(output!["text"])));
                break;
            case "display_data" or "execute_result":
                var data = output!["data"];
                if (data?["text/plain"] is { } plain)
                {
                    Console.Write(Indent(Text(plain)));
                }
                else if (data?["text/html"] is { } html && Text(html).Contains("<svg", StringComparison.Ordinal))
                {
                    charts++;
                    Console.WriteLine($"   [chart: {Text(html).Length / 1024} KB of SVG]");
                }

                break;
        }
    }
}

Console.WriteLine($"notebook: {ran.Count} code cells ran without an error; {charts} charts");
return 0;

static DateTimeOffset Time(JsonNode? node) => DateTimeOffset.Parse((string)node!, CultureInfo.InvariantCulture);

static List<JsonNode> CodeCells(string path) =>
    (JsonNode.Parse(File.ReadAllText(path))?["cells"]?.AsArray() ?? throw new InvalidDataException($"{path}: no cells"))
    .Where(c => (string?)c?["cell_type"] == "code")
    .Select(c => c!)
    .ToList();

// Notebook text is a string or a list of lines.
static string Text(JsonNode? node) => node switch
{
    JsonArray lines => string.Concat(lines.Select(l => (string?)l)),
    JsonValue value => (string?)value ?? "",
    _ => "",
};

static string Indent(string text) =>
    string.Concat(text.TrimEnd('\n').Split('\n').Select(line => $"   {line}\n"));

static int Fail(string message)
{
    Console.Error.WriteLine($"notebook check failed: {message}");
    return 1;
}
