using System.Globalization;
using System.Text;

namespace MLNet.PromptTuning.Checkpoints;

/// <summary>
/// The header of a <c>.npy</c> array: a Python dict literal such as
/// <c>{'descr': '&lt;f4', 'fortran_order': False, 'shape': (768, 12, 64), }</c>.
/// </summary>
internal sealed record NpyHeader(string Descr, bool FortranOrder, long[] Shape)
{
    /// <summary>The most dimensions accepted (NumPy's own limit is 64).</summary>
    public const int MaxDimensions = 64;

    /// <summary>Parses the dict literal; throws <see cref="InvalidDataException"/> naming the problem.</summary>
    public static NpyHeader Parse(string text, string source)
    {
        var parser = new LiteralParser(text, source);
        var value = parser.ParseValue();
        parser.ExpectEnd();
        if (value is not Dictionary<string, object?> dict)
        {
            throw Invalid(source, "the header is not a dict");
        }

        if (!dict.TryGetValue("descr", out var descr) || !dict.TryGetValue("fortran_order", out var fortran) ||
            !dict.TryGetValue("shape", out var shape))
        {
            throw Invalid(source, "the header lacks one of 'descr', 'fortran_order', 'shape'");
        }

        if (descr is not string descrText)
        {
            throw new NotSupportedException(
                $"'{source}' holds a structured array (descr {Describe(descr)}); only plain numeric arrays are " +
                $"supported.");
        }

        if (fortran is not bool fortranOrder)
        {
            throw Invalid(source, "'fortran_order' is not True or False");
        }

        if (shape is not List<object?> dims || dims.Any(d => d is not long))
        {
            throw Invalid(source, "'shape' is not a tuple of integers");
        }

        var sizes = dims.Cast<long>().ToArray();
        if (sizes.Length > MaxDimensions)
        {
            throw Invalid(source, $"'shape' has {sizes.Length} dimensions (at most {MaxDimensions} are accepted)");
        }

        if (sizes.Any(d => d < 0))
        {
            throw Invalid(source, $"'shape' ({string.Join(", ", sizes)}) has a negative dimension");
        }

        return new NpyHeader(descrText, fortranOrder, sizes);
    }

    private static string Describe(object? value) => value switch
    {
        null => "None",
        List<object?> list => "[" + string.Join(", ", list.Select(Describe)) + "]",
        _ => value.ToString() ?? "",
    };

    private static InvalidDataException Invalid(string source, string reason) =>
        new($"'{source}' is not a valid .npy array: {reason}.");

    /// <summary>
    /// Just enough of Python's literal syntax for numpy headers: dicts, tuples, lists, str, int, bool, None. Nesting is
    /// bounded (a real header nests two levels: the dict and its shape tuple), so a hostile header cannot exhaust the
    /// stack.
    /// </summary>
    private sealed class LiteralParser(string text, string source)
    {
        /// <summary>The deepest nesting of dicts, tuples and lists accepted.</summary>
        public const int MaxNesting = 8;

        private int _position;
        private int _depth;

        public object? ParseValue()
        {
            SkipWhitespace();
            if (_position >= text.Length)
            {
                throw Invalid(source, "the header ends early");
            }

            var c = text[_position];
            if (c is '{' or '(' or '[' && ++_depth > MaxNesting)
            {
                throw Invalid(source, $"the header nests deeper than {MaxNesting} levels at character {_position}");
            }

            return c switch
            {
                '{' => ParseDict(),
                '(' => ParseSequence(')'),
                '[' => ParseSequence(']'),
                '\'' or '"' => ParseString(),
                _ when c == '-' || char.IsAsciiDigit(c) => ParseInteger(),
                _ => ParseWord(),
            };
        }

        public void ExpectEnd()
        {
            SkipWhitespace();
            if (_position != text.Length)
            {
                throw Invalid(source, $"unexpected text after the header dict at character {_position}");
            }
        }

        private Dictionary<string, object?> ParseDict()
        {
            _position++;
            var result = new Dictionary<string, object?>(StringComparer.Ordinal);
            while (true)
            {
                SkipWhitespace();
                if (Peek() == '}')
                {
                    _position++;
                    _depth--;
                    return result;
                }

                if (ParseValue() is not string key)
                {
                    throw Invalid(source, "a header dict key is not a string");
                }

                SkipWhitespace();
                Expect(':');
                if (!result.TryAdd(key, ParseValue()))
                {
                    throw Invalid(source, $"the header dict has the key '{key}' twice");
                }

                SkipWhitespace();
                if (Peek() == ',')
                {
                    _position++;
                }
                else if (Peek() != '}')
                {
                    throw Invalid(source, $"expected ',' or '}}' at character {_position}");
                }
            }
        }

        private List<object?> ParseSequence(char close)
        {
            _position++;
            var result = new List<object?>();
            while (true)
            {
                SkipWhitespace();
                if (Peek() == close)
                {
                    _position++;
                    _depth--;
                    return result;
                }

                result.Add(ParseValue());
                SkipWhitespace();
                if (Peek() == ',')
                {
                    _position++;
                }
                else if (Peek() != close)
                {
                    throw Invalid(source, $"expected ',' or '{close}' at character {_position}");
                }
            }
        }

        private string ParseString()
        {
            var quote = text[_position++];
            var builder = new StringBuilder();
            while (_position < text.Length && text[_position] != quote)
            {
                if (text[_position] == '\\' && _position + 1 < text.Length)
                {
                    _position++;
                }

                builder.Append(text[_position++]);
            }

            Expect(quote);
            return builder.ToString();
        }

        private long ParseInteger()
        {
            var start = _position;
            if (Peek() == '-')
            {
                _position++;
            }

            while (_position < text.Length && char.IsAsciiDigit(text[_position]))
            {
                _position++;
            }

            var digits = text[start.._position];
            if (Peek() is 'L' or 'l')
            {
                _position++; // Python 2 long suffix in old files
            }

            if (!long.TryParse(digits, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value))
            {
                throw Invalid(source, $"'{digits}' is not an integer in range");
            }

            return value;
        }

        private object? ParseWord()
        {
            var start = _position;
            while (_position < text.Length && char.IsAsciiLetter(text[_position]))
            {
                _position++;
            }

            return text[start.._position] switch
            {
                "True" => true,
                "False" => false,
                "None" => null,
                var word => throw Invalid(source, $"unexpected '{(word.Length > 0 ? word : text[start].ToString())}' " +
                                                  $"at character {start}"),
            };
        }

        private void SkipWhitespace()
        {
            while (_position < text.Length && char.IsWhiteSpace(text[_position]))
            {
                _position++;
            }
        }

        private char Peek() => _position < text.Length ? text[_position] : '\0';

        private void Expect(char c)
        {
            if (Peek() != c)
            {
                throw Invalid(source, $"expected '{c}' at character {_position}");
            }

            _position++;
        }
    }
}
