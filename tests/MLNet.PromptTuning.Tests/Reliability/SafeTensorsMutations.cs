using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;

namespace MLNet.PromptTuning.Tests.Reliability;

/// <summary>
/// Damage that knows the safetensors layout: header-length edits, shape, offset and dtype edits, duplicate and renamed
/// keys, invalid UTF-8, deep nesting, metadata edits and edits of the stored <c>vit_config</c>; otherwise format-blind
/// damage, of which in-place changes inside the data buffer are undetectable by design (the format has no checksum).
/// </summary>
internal static class SafeTensorsMutations
{
    private static readonly string[] DTypes =
        ["F16", "BF16", "F64", "I32", "U32", "I64", "BOOL", "U8", "F8_E4M3", "X32"];

    public static Mutation Any(Random random, byte[] original)
    {
        var headerLength = (int)BinaryPrimitives.ReadUInt64LittleEndian(original);
        var dataStart = 8 + headerLength;
        if (random.Next(3) == 0)
        {
            return ByteMutations.Any(random, original, (at, count) => at >= dataStart);
        }

        var header = JsonNode.Parse(original.AsSpan(8, headerLength))!.AsObject();
        var data = original[dataStart..];
        var tensors = header.Where(p => p.Key != "__metadata__").Select(p => p.Key).ToList();
        var name = tensors[random.Next(tensors.Count)];
        var entry = header[name]!.AsObject();
        var hasConfig = header["__metadata__"]?["vit_config"] is not null;
        switch (random.Next(11))
        {
            case 0:
            {
                long[] deltas = [-8, -2, -1, 1, 2, 8, 1L << 40, headerLength + data.Length, -headerLength];
                var delta = deltas[random.Next(deltas.Length)];
                var bytes = (byte[])original.Clone();
                BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)(headerLength + delta));
                return new Mutation(
                    "st-header-length", $"header length {headerLength} changed by {delta}", bytes, true);
            }

            case 1:
            {
                var shape = entry["shape"]!.AsArray();
                var dims = shape.Select(d => (long)d!).ToArray();
                if (dims.Length > 1 && random.Next(3) == 0)
                {
                    var permuted = dims.Reverse().ToArray();
                    entry["shape"] = new JsonArray(permuted.Select(d => (JsonNode)d).ToArray());
                    return Rebuild("st-shape", $"shape of '{name}' reversed to [{string.Join(",", permuted)}]",
                        header, data, detectable: false);
                }

                long[] values = [0, 1, -1, 1L << 40, 1L << 62, long.MaxValue, random.Next(1, 100)];
                var value = values[random.Next(values.Length)];
                var changed = dims.Length == 0 ? [value] : dims.ToArray();
                if (dims.Length > 0)
                {
                    changed[random.Next(dims.Length)] = value;
                }

                entry["shape"] = new JsonArray(changed.Select(d => (JsonNode)d).ToArray());
                return Rebuild("st-shape", $"shape of '{name}' set to [{string.Join(",", changed)}]", header, data,
                    detectable: changed.Aggregate(1L, (a, b) => unchecked(a * b)) !=
                                dims.Aggregate(1L, (a, b) => a * b));
            }

            case 2:
            {
                var offsets = entry["data_offsets"]!.AsArray();
                long begin = (long)offsets[0]!, end = (long)offsets[1]!;
                var other = header[tensors[random.Next(tensors.Count)]]!["data_offsets"]!.AsArray();
                long otherBegin = (long)other[0]!, otherEnd = (long)other[1]!;
                if (random.Next(3) == 0 && otherEnd - otherBegin == end - begin && otherBegin != begin)
                {
                    offsets[0] = otherBegin;
                    offsets[1] = otherEnd;
                    other[0] = begin;
                    other[1] = end;
                    return Rebuild("st-offsets", $"offsets of '{name}' swapped with a same-sized tensor", header, data,
                        detectable: false);
                }

                long[] shifts = [-4, -2, -1, 1, 2, 4, 1L << 40, -begin - 1];
                var shift = shifts[random.Next(shifts.Length)];
                var which = random.Next(3);
                offsets[0] = which != 1 ? begin + shift : begin;
                offsets[1] = which != 0 ? end + shift : end;
                return Rebuild("st-offsets", $"data_offsets of '{name}' shifted by {shift} ({which})", header, data,
                    detectable: true);
            }

            case 3:
            {
                var from = (string)entry["dtype"]!;
                var to = DTypes[random.Next(DTypes.Length)];
                entry["dtype"] = to;
                var undetectable = (from, to) is ("F16", "BF16") or ("BF16", "F16") || from == to;
                return Rebuild("st-dtype", $"dtype of '{name}' changed from {from} to {to}", header, data,
                    detectable: !undetectable);
            }

            case 4:
            {
                // JsonObject cannot hold a duplicate key, so the duplicate is spliced into the text.
                var text = header.ToJsonString();
                var duplicate = $"\"{name}\":{entry.ToJsonString()},";
                return RebuildText("st-duplicate-key", $"entry '{name}' duplicated", "{" + duplicate + text[1..], data);
            }

            case 5:
            {
                var other = tensors[random.Next(tensors.Count)];
                if (other != name && random.Next(2) == 0)
                {
                    var first = header[name]!.DeepClone();
                    header[name] = header[other]!.DeepClone();
                    header[other] = first;
                    // Whole entries change names: with equal shapes the tensors just trade places, which no reader
                    // can notice (each keeps its own dtype and offsets).
                    var sameShape = header[name]!["shape"]!.ToJsonString() == header[other]!["shape"]!.ToJsonString();
                    return Rebuild("st-key-rename", $"names of '{name}' and '{other}' swapped", header, data,
                        detectable: !sameShape);
                }

                header.Remove(name);
                var renamed = name[..^1] + (char)('a' + random.Next(26));
                header[renamed] = entry;
                return Rebuild("st-key-rename", $"'{name}' renamed to '{renamed}'", header, data,
                    detectable: renamed != name);
            }

            case 6:
            {
                var bytes = Encoding.UTF8.GetBytes(header.ToJsonString());
                var key = Encoding.UTF8.GetBytes($"\"{name}\"");
                var at = bytes.AsSpan().IndexOf(key) + 1 + random.Next(name.Length);
                byte[] invalid = [0xFF, 0xC0, 0xED, 0x80];
                bytes[at] = invalid[random.Next(invalid.Length)];
                return RebuildBytes(
                    "st-invalid-utf8", $"a byte of key '{name}' replaced by invalid UTF-8", bytes, data);
            }

            case 7:
            {
                var depth = random.Next(2) == 0 ? 20 : 100_000;
                var text = header.ToJsonString();
                var nested = new string('[', depth) + new string(']', depth);
                return RebuildText("st-deep-nesting", $"an array nested {depth} deep added",
                    "{\"deep\":" + nested + "," + text[1..], data);
            }

            case 8:
            {
                var metadata = header["__metadata__"] as JsonObject;
                if (metadata is null)
                {
                    header["__metadata__"] = metadata = new JsonObject();
                }

                switch (random.Next(3))
                {
                    case 0:
                        metadata["format"] = 42;
                        return Rebuild("st-metadata", "a metadata value made a number", header, data, detectable: true);
                    case 1:
                        header["__metadata__"] = new JsonArray(1, 2);
                        return Rebuild("st-metadata", "__metadata__ made an array", header, data, detectable: true);
                    default:
                        metadata["note"] = new string('x', random.Next(1, 100_000));
                        return Rebuild("st-metadata", "a long metadata string added", header, data,
                            detectable: true, configMayChange: false);
                }
            }

            case 9 when hasConfig:
                return ConfigEdit(random, header, data);

            default:
            {
                var mutation = ByteMutations.Any(random, original, (at, count) => at >= dataStart);
                // Inside the header, a change to metadata text (which nothing checksums) may alter a stored config.
                return mutation with { ConfigMayChange = true };
            }
        }
    }

    private static Mutation ConfigEdit(Random random, JsonObject header, byte[] data)
    {
        var metadata = header["__metadata__"]!.AsObject();
        var config = JsonNode.Parse((string)metadata["vit_config"]!)!.AsObject();
        (string Property, JsonNode? Value, bool ShapeChanging)[] edits =
        [
            ("Depth", 1000, true), ("Depth", 1_000_000_000, true), ("Depth", 0, true), ("Depth", -1, true),
            ("Depth", 1, true), ("MlpRatio", 1000, true), ("MlpRatio", 1e300, true), ("MlpRatio", 0, true),
            ("MlpRatio", "NaN", true), ("EmbedDim", 1_000_000, true), ("EmbedDim", 8, true),
            ("ImageHeight", 1 << 20, true), ("ImageWidth", 4, true), ("PatchSize", 1, true), ("InChannels", 1, true),
            ("QkvBias", false, true), ("UseFcNorm", true, true), ("NumHeads", 4, false), ("NumHeads", 3, true),
            ("LayerNormEps", 0.5, false), ("LayerNormEps", "Infinity", true), ("Name", "edited", false),
            ("GlobalPooling", "Average", false), ("GlobalPooling", 7, true), ("Preprocessing", null, true),
        ];
        var (property, value, shapeChanging) = edits[random.Next(edits.Length)];
        config[property] = value?.DeepClone();
        metadata["vit_config"] = config.ToJsonString();
        return Rebuild("st-config", $"vit_config {property} set to {value?.ToJsonString() ?? "null"}", header, data,
            detectable: true, configMayChange: !shapeChanging);
    }

    private static Mutation Rebuild(
        string kind, string description, JsonObject header, byte[] data, bool detectable,
        bool configMayChange = false) =>
        new(kind, description, Assemble(Encoding.UTF8.GetBytes(header.ToJsonString()), data), detectable,
            configMayChange);

    private static Mutation RebuildText(string kind, string description, string header, byte[] data) =>
        new(kind, description, Assemble(Encoding.UTF8.GetBytes(header), data), true);

    private static Mutation RebuildBytes(string kind, string description, byte[] header, byte[] data) =>
        new(kind, description, Assemble(header, data), true);

    /// <summary>A well-formed file around the header: padded to 8 bytes, with a correct header length.</summary>
    private static byte[] Assemble(byte[] header, byte[] data)
    {
        var padded = (header.Length + 7) / 8 * 8;
        var bytes = new byte[8 + padded + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)padded);
        header.CopyTo(bytes, 8);
        bytes.AsSpan(8 + header.Length, padded - header.Length).Fill((byte)' ');
        data.CopyTo(bytes, 8 + padded);
        return bytes;
    }
}
