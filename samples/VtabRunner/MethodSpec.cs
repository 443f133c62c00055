using System.Globalization;
using System.Reflection;
using MLNet.PromptTuning.Prompting;

namespace MLNet.PromptTuning.Samples.VtabRunner;

/// <summary>
/// One method to run, parsed from <c>id[:Option=value[:Option=value...]]</c>: a registry id, optional values for the
/// method's public options properties, and optional per-method grids <c>lr=a/b/c</c> and <c>wd=a/b</c> that replace
/// the global search grid (full fine-tuning usually needs much smaller rates than prompts).
/// Examples: <c>vpt</c>, <c>vpt:PromptLength=50:Dropout=0.1</c>, <c>tcpa:VptPromptLength=10</c>,
/// <c>full:lr=0.0005/0.001</c>.
/// </summary>
internal sealed class MethodSpec
{
    private readonly Dictionary<string, string> _options;

    private MethodSpec(string label, string id, Dictionary<string, string> options, double[]? rates, double[]? decays)
    {
        Label = label;
        Id = id;
        _options = options;
        LearningRates = rates;
        WeightDecays = decays;
    }

    /// <summary>The text as given; it names the method in the journal and the tables.</summary>
    public string Label { get; }

    public string Id { get; }

    public IReadOnlyList<double>? LearningRates { get; }

    public IReadOnlyList<double>? WeightDecays { get; }

    public static MethodSpec Parse(string text, PromptMethodRegistry registry)
    {
        var parts = text.Split(':', StringSplitOptions.TrimEntries);
        var id = parts[0].ToLowerInvariant();
        if (!registry.Ids.Contains(id))
        {
            throw new ArgumentException(
                $"Unknown method '{parts[0]}' in --methods; known: {string.Join(", ", registry.Ids)}.");
        }

        var options = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        double[]? rates = null, decays = null;
        foreach (var part in parts.Skip(1))
        {
            int eq = part.IndexOf('=');
            if (eq <= 0)
            {
                throw new ArgumentException($"Method option '{part}' in '{text}' must look like Name=value.");
            }

            var name = part[..eq].Trim();
            var value = part[(eq + 1)..].Trim();
            if (name.Equals("lr", StringComparison.OrdinalIgnoreCase))
            {
                rates = ParseGrid(value, text);
            }
            else if (name.Equals("wd", StringComparison.OrdinalIgnoreCase))
            {
                decays = ParseGrid(value, text);
            }
            else
            {
                options[name] = value;
            }
        }

        var spec = new MethodSpec(text, id, options, rates, decays);
        spec.CreateOptions(registry); // fail now, not hours later
        return spec;
    }

    /// <summary>A fresh options object with the given values set.</summary>
    public PromptMethodOptions CreateOptions(PromptMethodRegistry registry)
    {
        var type = registry.GetOptionsType(Id);
        var options = (PromptMethodOptions)Activator.CreateInstance(type)!;
        foreach (var (name, value) in _options)
        {
            var property = type.GetProperty(name,
                BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase);
            if (property is null || !property.CanWrite)
            {
                var known = type.GetProperties().Where(p => p.CanWrite).Select(p => p.Name);
                throw new ArgumentException(
                    $"{type.Name} has no settable option '{name}' (in '{Label}'); options: " +
                    $"{string.Join(", ", known)}.");
            }

            property.SetValue(options, Convert(value, property.PropertyType, name));
        }

        return options;
    }

    private static object? Convert(string value, Type type, string name)
    {
        var target = Nullable.GetUnderlyingType(type) ?? type;
        if (Nullable.GetUnderlyingType(type) is not null && value.Equals("null", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        try
        {
            return target.IsEnum
                ? Enum.Parse(target, value, ignoreCase: true)
                : System.Convert.ChangeType(value, target, CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (
            e is FormatException or ArgumentException or InvalidCastException or OverflowException)
        {
            var expected = target.IsEnum ? string.Join(", ", Enum.GetNames(target)) : target.Name;
            throw new ArgumentException($"Option {name} = '{value}' is not a valid {target.Name}; expected {expected}.",
                e);
        }
    }

    private static double[] ParseGrid(string value, string text)
    {
        try
        {
            return value.Split('/', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(v => double.Parse(v, NumberStyles.Float, CultureInfo.InvariantCulture)).ToArray();
        }
        catch (FormatException e)
        {
            throw new ArgumentException($"Grid '{value}' in '{text}' must be numbers separated by '/'.", e);
        }
    }
}
