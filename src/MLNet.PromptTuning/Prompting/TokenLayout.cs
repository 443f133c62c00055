namespace MLNet.PromptTuning.Prompting;

/// <summary>
/// The immutable map of the token sequence: which named segments it holds, in order. Methods find tokens by segment
/// name or role, never by hard-coded index, so methods can be combined and backbones can change.
/// </summary>
public sealed class TokenLayout
{
    /// <summary>Name of the class-token segment.</summary>
    public const string ClassTokenSegment = "cls";

    /// <summary>Name of the patch-token segment.</summary>
    public const string PatchSegment = "patches";

    private readonly TokenSegment[] _segments;

    private TokenLayout(TokenSegment[] segments)
    {
        _segments = segments;
    }

    /// <summary>The layout after embedding: the class token followed by <paramref name="patchCount"/>
    /// patches.</summary>
    public static TokenLayout Initial(int patchCount) => new(new[]
    {
        new TokenSegment(ClassTokenSegment, TokenRole.Prefix, 1),
        new TokenSegment(PatchSegment, TokenRole.Patches, patchCount),
    });

    /// <summary>The segments in sequence order.</summary>
    public IReadOnlyList<TokenSegment> Segments => _segments;

    /// <summary>Total number of tokens.</summary>
    public int Count => _segments.Sum(s => s.Length);

    /// <summary>Number of prefix tokens at the start of the sequence.</summary>
    public int PrefixCount => _segments.TakeWhile(s => s.Role == TokenRole.Prefix).Sum(s => s.Length);

    /// <summary>Whether a segment with this name exists.</summary>
    public bool Contains(string name) => Array.FindIndex(_segments, s => s.Name == name) >= 0;

    /// <summary>The segment with this name.</summary>
    public TokenSegment this[string name] => _segments[IndexOf(name)];

    /// <summary>Index of the first token of the named segment.</summary>
    public int OffsetOf(string name)
    {
        int index = IndexOf(name);
        int offset = 0;
        for (int i = 0; i < index; i++)
        {
            offset += _segments[i].Length;
        }

        return offset;
    }

    /// <summary>Returns a layout with <paramref name="segment"/> inserted at <paramref name="position"/>.</summary>
    public TokenLayout Insert(TokenSegment segment, SegmentPosition position)
    {
        if (Contains(segment.Name))
        {
            throw new InvalidOperationException($"The token layout already has a segment named '{segment.Name}'.");
        }

        var list = _segments.ToList();
        int at = position == SegmentPosition.End
            ? list.Count
            : list.TakeWhile(s => s.Role == TokenRole.Prefix).Count();
        list.Insert(at, segment);
        return new TokenLayout(list.ToArray());
    }

    /// <summary>Returns a layout with the named segment resized to <paramref name="length"/> tokens.</summary>
    public TokenLayout Resize(string name, int length)
    {
        var copy = (TokenSegment[])_segments.Clone();
        int index = IndexOf(name);
        copy[index] = copy[index] with { Length = length };
        return new TokenLayout(copy);
    }

    /// <summary>Returns a layout without the named segment.</summary>
    public TokenLayout Remove(string name)
    {
        int index = IndexOf(name);
        return new TokenLayout(_segments.Where((_, i) => i != index).ToArray());
    }

    /// <summary>The token indices [start, end) covered by every segment of the given role, in order.</summary>
    public IEnumerable<(int Start, int Length)> RangesOf(TokenRole role)
    {
        int offset = 0;
        foreach (var segment in _segments)
        {
            if (segment.Role == role)
            {
                yield return (offset, segment.Length);
            }

            offset += segment.Length;
        }
    }

    /// <inheritdoc/>
    public override string ToString() => string.Join(" | ", _segments.Select(s => $"{s.Name}:{s.Length}"));

    private int IndexOf(string name)
    {
        int index = Array.FindIndex(_segments, s => s.Name == name);
        if (index < 0)
        {
            throw new KeyNotFoundException($"The token layout has no segment named '{name}' (it has: {this}).");
        }

        return index;
    }
}
