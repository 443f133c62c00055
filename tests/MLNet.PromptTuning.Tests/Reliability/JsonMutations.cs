using System.Text.Json.Nodes;

namespace MLNet.PromptTuning.Tests.Reliability;

/// <summary>
/// Damage that knows JSON: a value replaced by one of another type or an extreme one, a property or element removed, a
/// property given twice, deep nesting, a huge string, invalid text spliced in; otherwise format-blind byte damage. JSON
/// has no checksum, so every case is undetectable by design: an edit that still reads as a valid document may load
/// with what it says. It must still never crash, hang, over-allocate or throw an undocumented exception.
/// </summary>
internal static class JsonMutations
{
    private const string Placeholder = "@@json-mutation@@";

    private static readonly string[] Values =
    [
        "null", "\"\"", "\" \"", "-1", "0", "1", "3", "1.5", "-0.0", "1e308", "-1e308", "2147483648", "-2147483649",
        "18446744073709551616", "true", "false", "[]", "{}", "[null]", "{\"a\":1}", "\"NaN\"", "\"Infinity\"",
        "\"x\"", "\"BFloat16\"", "\"Float32\"", "\"\\ud800\"", "\"\\u0000\"", "\"../../etc\"",
    ];

    public static Mutation Any(Random random, byte[] original)
    {
        if (random.Next(4) == 0)
        {
            var bytes = ByteMutations.Any(random, original, (at, count) => true);
            return bytes with { Kind = "text-" + bytes.Kind, Detectable = false };
        }

        var root = JsonNode.Parse(original)!;
        var places = new List<Place>();
        Collect(root, places);
        var place = places[random.Next(places.Count)];
        var (node, path) = (place.Node, place.Path);
        var text = node?.ToJsonString() ?? "null";
        switch (random.Next(6))
        {
            case 0:
            case 1:
            {
                var value = Values[random.Next(Values.Length)];
                return Edit("json-value", $"{path}: {Clip(text)} -> {value}", root, place, value);
            }

            case 2:
            {
                if (place.Parent is JsonObject obj)
                {
                    obj.Remove(place.Name!);
                }
                else
                {
                    ((JsonArray)place.Parent).RemoveAt(place.Index);
                }

                return Result("json-remove", $"{path} removed", root.ToJsonString());
            }

            case 3:
            {
                var value = Values[random.Next(Values.Length)];
                var replaced = place.Name is { } name ? $"{text}, \"{name}\": {value}" : $"{text}, {value}";
                return Edit("json-duplicate", $"{path} given again as {value}", root, place, replaced);
            }

            case 4:
            {
                var depth = random.Next(2) == 0 ? 70 : 100_000;
                var value = new string('[', depth) + new string(']', depth);
                return Edit("json-nesting", $"{path} -> {depth} nested arrays", root, place, value);
            }

            default:
            {
                var length = random.Next(2) == 0 ? 100_000 : 4_000_000;
                var value = random.Next(2) == 0 ? $"\"{new string('a', length)}\"" : new string('9', length);
                return Edit("json-huge", $"{path} -> a {length}-character value", root, place, value);
            }
        }
    }

    /// <summary>Every value under <paramref name="node"/>, where it is (the root excluded).</summary>
    private static void Collect(JsonNode node, List<Place> into)
    {
        if (node is JsonObject obj)
        {
            foreach (var (name, child) in obj)
            {
                into.Add(new Place(child, obj, name, -1, $"{node.GetPath()}.{name}"));
                if (child is not null)
                {
                    Collect(child, into);
                }
            }
        }
        else if (node is JsonArray array)
        {
            for (var i = 0; i < array.Count; i++)
            {
                into.Add(new Place(array[i], array, null, i, $"{node.GetPath()}[{i}]"));
                if (array[i] is { } child)
                {
                    Collect(child, into);
                }
            }
        }
    }

    /// <summary>Puts <paramref name="raw"/> text in <paramref name="place"/> (it may not be valid JSON).</summary>
    private static Mutation Edit(string kind, string description, JsonNode root, Place place, string raw)
    {
        if (place.Parent is JsonObject obj)
        {
            obj[place.Name!] = Placeholder;
        }
        else
        {
            ((JsonArray)place.Parent)[place.Index] = Placeholder;
        }

        return Result(kind, description, root.ToJsonString().Replace($"\"{Placeholder}\"", raw));
    }

    private static Mutation Result(string kind, string description, string text) =>
        new(kind, description, System.Text.Encoding.UTF8.GetBytes(text), Detectable: false);

    private static string Clip(string text) => text.Length > 40 ? text[..40] + "..." : text;

    /// <summary>A value in the document: its parent and its property name (in an object) or index (in an
    /// array).</summary>
    private sealed record Place(JsonNode? Node, JsonNode Parent, string? Name, int Index, string Path);
}
