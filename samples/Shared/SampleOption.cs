using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Numerics;

namespace MLNet.PromptTuning.Samples;

/// <summary>
/// Builds the samples' System.CommandLine options the same way: values parsed with the invariant culture, a default
/// that <c>--help</c> shows, and errors that name the option, the bad value and what was expected.
/// </summary>
internal static class SampleOption
{
    /// <summary>A single value of a parsable type (int, double...), <paramref name="defaultValue"/> when absent;
    /// <paramref name="minimum"/>, if given, is the smallest value accepted.</summary>
    public static Option<T> Value<T>(
        string name, string description, T defaultValue, string helpName, T? minimum = null)
        where T : struct, INumberBase<T>, IComparable<T>
    {
        var option = new Option<T>(name)
        {
            Description = description,
            HelpName = helpName,
            DefaultValueFactory = _ => defaultValue,
            CustomParser = result => ParseSingle(result, minimum),
        };
        return option;
    }

    /// <summary>A value that may be absent (null); <paramref name="defaultText"/> says in help what absence means.
    /// </summary>
    public static Option<T?> Optional<T>(string name, string description, string defaultText, string helpName,
        T? minimum = null)
        where T : struct, INumberBase<T>, IComparable<T>
    {
        return new Option<T?>(name)
        {
            Description = WithDefault(description, defaultText),
            HelpName = helpName,
            CustomParser = result => ParseSingle(result, minimum),
        };
    }

    /// <summary>A text value (a path, a name), <paramref name="defaultValue"/> when absent.</summary>
    /// <param name="defaultText">What help shows as the default when it is not the value itself (for example a
    /// path that depends on where the program runs); null shows the value.</param>
    public static DefaultedOption<string> Text(
        string name, string description, Func<string> defaultValue, string helpName, string? defaultText = null) =>
        new(name, defaultValue)
        {
            Description = WithDefault(description, defaultText ?? defaultValue()),
            HelpName = helpName,
        };

    /// <summary>A text value that may be absent (null); <paramref name="defaultText"/> says what absence means.
    /// </summary>
    public static Option<string?> OptionalText(string name, string description, string defaultText, string helpName,
        bool required = false)
    {
        return new Option<string?>(name)
        {
            Description = required ? description : WithDefault(description, defaultText),
            HelpName = helpName,
            Required = required,
        };
    }

    /// <summary>One of <paramref name="allowed"/> (case-insensitive, returned in lower case).</summary>
    public static Option<string> Choice(string name, string description, string defaultValue,
        params string[] allowed)
    {
        return new Option<string>(name)
        {
            Description = description,
            HelpName = string.Join('|', allowed),
            DefaultValueFactory = _ => defaultValue,
            CustomParser = result =>
            {
                string token = SingleToken(result);
                string value = token.ToLowerInvariant();
                if (!allowed.Contains(value, StringComparer.Ordinal))
                {
                    result.AddError($"{OptionName(result)}: '{token}' is not one of {string.Join(", ", allowed)}.");
                }

                return value;
            },
        };
    }

    /// <summary>A comma-separated list (<c>--lr 1,5,25</c>) of a parsable type.</summary>
    public static DefaultedOption<T[]> List<T>(string name, string description, T[] defaultValue, string helpName)
        where T : INumberBase<T>
    {
        string shown = defaultValue.Length == 0 ? "none"
            : string.Join(',', defaultValue.Select(v => Convert.ToString(v, CultureInfo.InvariantCulture)));
        return new DefaultedOption<T[]>(name, () => defaultValue)
        {
            Description = WithDefault(description, shown),
            HelpName = helpName,
            CustomParser = result =>
            {
                var values = new List<T>();
                foreach (var item in SplitList(SingleToken(result)))
                {
                    if (!TryParse(item, out T value))
                    {
                        result.AddError($"{OptionName(result)}: '{item}' is not {Expected<T>()}.");
                        return Array.Empty<T>();
                    }

                    values.Add(value);
                }

                if (values.Count == 0)
                {
                    result.AddError($"{OptionName(result)} needs at least one value.");
                }

                return values.ToArray();
            },
        };
    }

    /// <summary>A comma-separated list of names; <paramref name="defaultText"/> (or the names) is shown in help.
    /// </summary>
    /// <param name="allowed">The names accepted, or null for any.</param>
    public static DefaultedOption<string[]> Names(
        string name, string description, string[] defaultValue, string helpName, string? defaultText = null,
        IReadOnlyCollection<string>? allowed = null) =>
        new(name, () => defaultValue)
        {
            Description = WithDefault(description, defaultText ?? string.Join(',', defaultValue)),
            HelpName = helpName,
            CustomParser = result =>
            {
                var names = SplitList(SingleToken(result));
                var unknown = allowed is null ? new List<string>()
                    : names.Where(n => !allowed.Contains(n, StringComparer.Ordinal)).ToList();
                if (unknown.Count > 0)
                {
                    result.AddError($"{OptionName(result)}: '{string.Join(",", unknown)}' is not one of " +
                                    $"{string.Join(", ", allowed!)}.");
                }

                return names;
            },
        };

    /// <summary>A switch: present means true.</summary>
    public static Option<bool> Flag(string name, string description) =>
        new(name) { Description = description, Arity = ArgumentArity.Zero };

    // The same "[default: ...]" System.CommandLine writes for a plain default value.
    private static string WithDefault(string description, string defaultText) =>
        $"{description} [default: {defaultText}]";

    private static string[] SplitList(string text) =>
        text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static T ParseSingle<T>(ArgumentResult result, T? minimum)
        where T : struct, INumberBase<T>, IComparable<T>
    {
        string token = SingleToken(result);
        if (!TryParse(token, out T value))
        {
            result.AddError($"{OptionName(result)}: '{token}' is not {Expected<T>()}.");
        }
        else if (minimum is { } min && value.CompareTo(min) < 0)
        {
            result.AddError(string.Create(CultureInfo.InvariantCulture,
                $"{OptionName(result)}: {token} is below the minimum, {min}."));
        }

        return value;
    }

    // Numbers in the invariant culture, without thousands separators: "0,01" is a mistake, not 1.
    private static bool TryParse<T>(string text, out T value)
        where T : INumberBase<T>
    {
        var style = typeof(T) == typeof(double) || typeof(T) == typeof(float) ? NumberStyles.Float
            : NumberStyles.Integer;
        return T.TryParse(text, style, CultureInfo.InvariantCulture, out value!);
    }

    private static string SingleToken(ArgumentResult result) =>
        result.Tokens.Count > 0 ? result.Tokens[^1].Value : string.Empty;

    private static string OptionName(ArgumentResult result) =>
        result.Parent is OptionResult option ? option.Option.Name : result.Argument.Name;

    private static string Expected<T>() => typeof(T) == typeof(int) || typeof(T) == typeof(long)
        ? "an integer"
        : typeof(T) == typeof(double) || typeof(T) == typeof(float) ? "a number" : $"a valid {typeof(T).Name}";
}
