using System.Globalization;

namespace MLNet.PromptTuning.Training;

/// <summary>
/// The one validation style of every options class in the library (trainer, engine, methods): an
/// <see cref="ArgumentOutOfRangeException"/> whose parameter name is the option and whose message reads
/// <c>{Owner}.{Option} is {value}; expected {range}.</c>, for example <c>Options.MaxEpoch is 0; expected [1,
/// 100000].</c>
/// </summary>
internal static class OptionChecks
{
    /// <summary>Throws unless <paramref name="condition"/> holds.</summary>
    /// <param name="condition">Whether the value is valid.</param>
    /// <param name="owner">The options class as the user knows it, for example <c>Options</c>.</param>
    /// <param name="option">The property name.</param>
    /// <param name="value">The value found (quote text values that are names, such as a method id).</param>
    /// <param name="expected">What is valid, for example <c>[1, 100000]</c>.</param>
    public static void Require(bool condition, string owner, string option, object? value, string expected)
    {
        if (!condition)
        {
            throw new ArgumentOutOfRangeException(option, value, Message(owner, option, value, expected));
        }
    }

    /// <summary>Checks <paramref name="value"/> against a closed or half-open interval; NaN is never valid.</summary>
    public static void InRange(string owner, string option, double value, double min, double max,
        bool minInclusive = true, bool maxInclusive = true)
    {
        bool ok = !double.IsNaN(value)
            && (minInclusive ? value >= min : value > min)
            && (maxInclusive ? value <= max : value < max);
        Require(ok, owner, option, value, Interval(min, max, minInclusive, maxInclusive));
    }

    /// <summary>Checks that an enum value is one of its named members.</summary>
    public static void Defined<T>(string owner, string option, T value)
        where T : struct, Enum =>
        Require(Enum.IsDefined(value), owner, option, value, $"one of {string.Join(", ", Enum.GetNames<T>())}");

    /// <summary>The message shape shared by every options check.</summary>
    public static string Message(string owner, string option, object? value, string expected) =>
        string.Create(CultureInfo.InvariantCulture, $"{owner}.{option} is {Show(value)}; expected {expected}.");

    /// <summary>An interval in mathematical notation, for example <c>(0, 100]</c>.</summary>
    public static string Interval(double min, double max, bool minInclusive = true, bool maxInclusive = true) =>
        $"{(minInclusive ? "[" : "(")}{Format(min)}, {Format(max)}{(maxInclusive ? "]" : ")")}";

    private static string Show(object? value) => value switch
    {
        null => "null",
        double d => Format(d),
        float f => Format(f),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? string.Empty,
    };

    private static string Format(double value) => value.ToString("G", CultureInfo.InvariantCulture);
}
