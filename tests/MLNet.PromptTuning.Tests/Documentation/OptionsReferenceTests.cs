using System.Reflection;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using MLNet.PromptTuning.Prompting;
using MLNet.PromptTuning.Tests.TestSupport;
using MLNet.PromptTuning.Training;
using Xunit;

namespace MLNet.PromptTuning.Tests.Documentation;

/// <summary>
/// docs/options.md covers every public option, and every list of method ids in the docs and the API's own
/// documentation is the registry's list.
/// </summary>
public sealed class OptionsReferenceTests
{
    private static readonly string Reference = RepositoryFiles.ReadAllText("docs/options.md");

    private static readonly Assembly Library = typeof(PromptViTTransformer).Assembly;

    private static IReadOnlyList<string> BuiltInIds
    {
        get
        {
            var registry = PromptMethodRegistry.Default;
            return registry.Ids.Where(id => registry.GetOptionsType(id).Assembly == Library).ToList();
        }
    }

    [Fact]
    public void EveryPublicMemberOfTheTrainerOptionsHasARow()
    {
        string section = Section("## PromptViTTrainer.Options", "## Method options");
        var missing = typeof(PromptViTTrainer.Options).GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Select(p => p.Name)
            .Where(name => !HasRow(section, name))
            .ToList();
        Assert.True(missing.Count == 0, $"docs/options.md has no row for Options.{string.Join(", Options.", missing)}");

        foreach (var method in typeof(PromptViTTrainer.Options).GetMethods(BindingFlags.Public | BindingFlags.Instance
            | BindingFlags.DeclaredOnly).Where(m => !m.IsSpecialName
                && m.DeclaringType == typeof(PromptViTTrainer.Options)
            && m.Name is not ("Equals" or "GetHashCode" or "ToString" or "<Clone>$" or "PrintMembers")))
        {
            Assert.Contains($"`{method.Name}()`", section);
        }
    }

    [Fact]
    public void EveryBuiltInMethodHasASectionWithARowPerOption()
    {
        var registry = PromptMethodRegistry.Default;
        string common = Section("## Method options", "### ");
        foreach (var name in typeof(PromptMethodOptions).GetProperties().Select(p => p.Name))
        {
            Assert.True(HasRow(common, name), $"docs/options.md lists no common method member {name}");
        }

        foreach (string id in BuiltInIds)
        {
            Type type = registry.GetOptionsType(id);
            string section = Section($"### {id} ({type.Name})", "### ");
            var missing = type.GetProperties(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly)
                .Where(p => p.GetMethod!.GetBaseDefinition().DeclaringType == type)
                .Select(p => p.Name)
                .Where(name => !HasRow(section, name))
                .ToList();
            Assert.True(missing.Count == 0, $"docs/options.md: '{id}' has no row for {string.Join(", ", missing)}");
        }
    }

    [Fact]
    public void TheDefaultRateTableStatesEachMethodsOwnDefaults()
    {
        var registry = PromptMethodRegistry.Default;
        string table = Section("## Learning rate and warm-up: each method's own", "## PromptViTTrainer.Options");
        foreach (string id in BuiltInIds)
        {
            var defaults = registry.CreateOptions(id).TrainingDefaults;
            var row = table.Split('\n').SingleOrDefault(l => l.StartsWith('|') && l.Contains($"`{id}`"));
            Assert.True(row is not null, $"no default-rate row names `{id}`");
            var cells = row!.Split('|', StringSplitOptions.TrimEntries);
            Assert.Equal(defaults.LearningRate,
                double.Parse(cells[2], System.Globalization.CultureInfo.InvariantCulture));
            Assert.Equal(defaults.WarmupEpochs,
                double.Parse(cells[3], System.Globalization.CultureInfo.InvariantCulture));
        }
    }

    [Fact]
    public void MethodListsInTheApiDocumentationAndTheDocsAreTheRegistrysList()
    {
        var ids = BuiltInIds;
        string xmlPath = Path.ChangeExtension(Library.Location, ".xml");
        var members = XDocument.Load(xmlPath).Descendants("member").ToDictionary(m => (string)m.Attribute("name")!);
        string methodDoc = Text(members["P:MLNet.PromptTuning.PromptViTTrainer.Options.Method"]);
        Assert.Equal(ids, IdsAfter(methodDoc, "built in: "));
        var catalog = members.Single(kv => kv.Key.StartsWith("M:MLNet.PromptTuning.PromptTuningCatalog.PromptViT(",
            StringComparison.Ordinal)
                && kv.Key.Contains("System.String,System.String", StringComparison.Ordinal)).Value;
        string methodParameter = Text(catalog.Elements("param").Single(p => (string)p.Attribute("name")! == "method"));
        Assert.Equal(ids, IdsAfter(methodParameter, "Built in: "));

        Assert.Equal(ids, IdsAfter(Reference, "(built in: "));
        string readme = RepositoryFiles.ReadAllText("README.md");
        var readmeTable = Regex.Matches(readme, @"^\| `([a-z_0-9]+)` \|", RegexOptions.Multiline).Select(m =>
            m.Groups[1].Value);
        Assert.Equal(ids, readmeTable);
        Assert.Equal(ids,
            Regex.Matches(Section("## Method options", null), @"^### ([a-z_0-9]+) \(", RegexOptions.Multiline)
            .Select(m => m.Groups[1].Value));
    }

    private static bool HasRow(string section, string option) =>
        section.Split('\n').Any(line => line.StartsWith($"| `{option}` |", StringComparison.Ordinal));

    /// <summary>The text from the heading <paramref name="start"/> to the next heading starting with <paramref
    /// name="end"/>.</summary>
    private static string Section(string start, string? end)
    {
        int from = Reference.IndexOf(start + "\n", StringComparison.Ordinal);
        if (from < 0)
        {
            from = Reference.IndexOf(start, StringComparison.Ordinal);
        }

        Assert.True(from >= 0, $"docs/options.md has no heading '{start}'");
        int body = Reference.IndexOf('\n', from) + 1;
        if (end is null)
        {
            return Reference[body..];
        }

        int to = Reference.IndexOf("\n" + end, body, StringComparison.Ordinal);
        return to < 0 ? Reference[body..] : Reference[body..to];
    }

    private static string Text(XElement element) => Regex.Replace(string.Concat(element.DescendantNodes()
        .OfType<XText>().Select(t => t.Value)), @"\s+", " ");

    /// <summary>The comma-separated ids after <paramref name="marker"/>, up to a semicolon, parenthesis or
    /// period.</summary>
    private static List<string> IdsAfter(string text, string marker)
    {
        int at = text.IndexOf(marker, StringComparison.Ordinal);
        Assert.True(at >= 0, $"'{marker}' not found in: {text}");
        string list = Regex.Match(text[(at + marker.Length)..], @"^[^;).]*").Value;
        return Regex.Matches(list, @"[a-z_0-9]+").Select(m => m.Value).Where(v => v is not ("or" or "and" or "default"))
            .ToList();
    }
}
