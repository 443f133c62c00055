using System.Collections;
using System.CommandLine;

namespace MLNet.PromptTuning.Samples;

/// <summary>
/// Options in the order they were declared, so that a command's options are each declared once, as a field
/// initialised with <c>All.Add(...)</c>, and the command gets them all (in help order) from this list.
/// </summary>
internal sealed class OptionList : IEnumerable<Option>
{
    private readonly List<Option> _options = new();

    /// <summary>Appends <paramref name="option"/> and returns it.</summary>
    public T Add<T>(T option)
        where T : Option
    {
        _options.Add(option);
        return option;
    }

    /// <inheritdoc/>
    public IEnumerator<Option> GetEnumerator() => _options.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
