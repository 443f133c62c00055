using System.CommandLine;

namespace MLNet.PromptTuning.Samples;

/// <summary>
/// An option whose default is applied when it is read rather than declared to System.CommandLine, so that help shows
/// the default as the description writes it (<c>1,5,25</c> for a list, not the parser's <c>1|5|25</c>; a sentence
/// for a default that depends on where the program runs).
/// </summary>
/// <typeparam name="T">The option's value type.</typeparam>
internal sealed class DefaultedOption<T> : Option<T>
    where T : class
{
    private readonly Func<T> _defaultValue;

    /// <summary>Creates the option <paramref name="name"/> with <paramref name="defaultValue"/> when absent.</summary>
    public DefaultedOption(string name, Func<T> defaultValue)
        : base(name)
    {
        _defaultValue = defaultValue;
    }

    /// <summary>The value given on the command line, or the default.</summary>
    public T ValueIn(ParseResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        // Not GetValue(...) ?? default: an absent array option reads as an empty array, not null.
        return result.GetResult(this) is { Implicit: false } ? result.GetValue(this)! : _defaultValue();
    }
}
