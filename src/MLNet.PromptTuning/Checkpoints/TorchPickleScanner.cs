using System.Buffers.Binary;
using System.Text;

namespace MLNet.PromptTuning.Checkpoints;

/// <summary>
/// Checks a <c>torch.save</c> pickle (<c>data.pkl</c>) opcode by opcode before anything unpickles it, the way
/// PyTorch's own <c>weights_only</c> loader restricts what it accepts: the only importable names are the few a
/// tensor-only checkpoint refers to (tensor rebuilders, storage types, <c>OrderedDict</c>), every length a opcode
/// declares must fit in the bytes that follow, and nesting is bounded. A pickle that names anything else
/// (<c>os.system</c>, <c>builtins.eval</c>, a numpy scalar, a pickled module) is refused with the name it used.
/// </summary>
internal static class TorchPickleScanner
{
    /// <summary>The deepest MARK nesting accepted (a state dict nests a few levels).</summary>
    public const int MaxMarkDepth = 256;

    private static readonly HashSet<string> AllowedGlobals = new(StringComparer.Ordinal)
    {
        "collections OrderedDict",
        "torch._utils _rebuild_tensor",
        "torch._utils _rebuild_tensor_v2",
        "torch FloatStorage", "torch DoubleStorage", "torch HalfStorage", "torch BFloat16Storage",
        "torch LongStorage", "torch IntStorage", "torch ShortStorage", "torch CharStorage", "torch ByteStorage",
        "torch BoolStorage",
    };

    /// <summary>Throws <see cref="InvalidDataException"/> naming the first thing such a pickle cannot hold.</summary>
    public static void Check(ReadOnlySpan<byte> pickle, string source)
    {
        var position = 0;
        var marks = 0;
        string? lastString = null, previousString = null;
        while (true)
        {
            if (position >= pickle.Length)
            {
                throw Invalid(source, "it ends without a STOP opcode (truncated?)");
            }

            var at = position;
            var op = pickle[position++];
            string? pushed = null;
            switch (op)
            {
                case (byte)'.': // STOP
                    if (position != pickle.Length)
                    {
                        throw Invalid(source, $"it has {pickle.Length - position} bytes after its STOP opcode");
                    }

                    return;
                case (byte)'(': // MARK
                    if (++marks > MaxMarkDepth)
                    {
                        throw Invalid(source, $"it nests deeper than {MaxMarkDepth} levels");
                    }

                    break;
                case (byte)'1' or (byte)'e' or (byte)'u' or (byte)'t' or (byte)'l' or (byte)'d' or 0x90 or 0x91:
                    // POP_MARK, APPENDS, SETITEMS, TUPLE, LIST, DICT, ADDITEMS, FROZENSET close a MARK.
                    marks = Math.Max(0, marks - 1);
                    break;
                case (byte)'0' or (byte)'2' or (byte)'N' or (byte)'Q' or (byte)'R' or (byte)'a' or (byte)'b'
                    or (byte)'}' or (byte)']' or (byte)')' or (byte)'s' or 0x81 or 0x85 or 0x86 or 0x87 or 0x88
                    or 0x89 or 0x8f or 0x94:
                    // POP DUP NONE BINPERSID REDUCE APPEND BUILD EMPTY_DICT EMPTY_LIST EMPTY_TUPLE SETITEM NEWOBJ
                    // TUPLE1-3 NEWTRUE NEWFALSE EMPTY_SET MEMOIZE: no argument. REDUCE, BUILD and NEWOBJ can only
                    // call what a GLOBAL pushed, and only allowed globals get past the check below.
                    break;
                case 0x80: // PROTO
                    Skip(pickle, ref position, 1, source);
                    break;
                case (byte)'K' or (byte)'h' or (byte)'q': // BININT1 BINGET BINPUT
                    Skip(pickle, ref position, 1, source);
                    break;
                case (byte)'M': // BININT2
                    Skip(pickle, ref position, 2, source);
                    break;
                case (byte)'J' or (byte)'j' or (byte)'r': // BININT LONG_BINGET LONG_BINPUT
                    Skip(pickle, ref position, 4, source);
                    break;
                case (byte)'G': // BINFLOAT
                    Skip(pickle, ref position, 8, source);
                    break;
                case 0x95: // FRAME: the frame's opcodes follow inline
                    Skip(pickle, ref position, 8, source);
                    break;
                case (byte)'F' or (byte)'I' or (byte)'L' or (byte)'P' or (byte)'g' or (byte)'p':
                    // FLOAT INT LONG PERSID GET PUT: a newline-terminated argument.
                    Line(pickle, ref position, source);
                    break;
                case (byte)'S' or (byte)'V': // STRING UNICODE
                    pushed = Line(pickle, ref position, source);
                    break;
                case 0x8a: // LONG1
                    Skip(pickle, ref position, Length(pickle, ref position, 1, source), source);
                    break;
                case 0x8b: // LONG4
                    Skip(pickle, ref position, Length(pickle, ref position, 4, source), source);
                    break;
                case (byte)'U' or (byte)'C' or 0x8c: // SHORT_BINSTRING SHORT_BINBYTES SHORT_BINUNICODE
                    pushed = Text(pickle, ref position, Length(pickle, ref position, 1, source), source);
                    break;
                case (byte)'T' or (byte)'B' or (byte)'X': // BINSTRING BINBYTES BINUNICODE
                    pushed = Text(pickle, ref position, Length(pickle, ref position, 4, source), source);
                    break;
                case 0x8d or 0x8e or 0x96: // BINUNICODE8 BINBYTES8 BYTEARRAY8
                    pushed = Text(pickle, ref position, Length(pickle, ref position, 8, source), source);
                    break;
                case (byte)'c': // GLOBAL module\nname\n
                {
                    var module = Line(pickle, ref position, source);
                    var name = Line(pickle, ref position, source);
                    RequireAllowed(module, name, source);
                    break;
                }

                case 0x93: // STACK_GLOBAL: module and name are the two strings just pushed
                    if (previousString is null || lastString is null)
                    {
                        throw Invalid(source, $"a STACK_GLOBAL at byte {at} does not follow two strings");
                    }

                    RequireAllowed(previousString, lastString, source);
                    break;
                default:
                    // INST, OBJ, EXT1/2/4, NEWOBJ_EX, buffers, and anything unknown: never in a tensor-only checkpoint.
                    throw Invalid(source, $"it uses pickle opcode 0x{op:X2} at byte {at}, which a tensor-only " +
                                          "torch.save checkpoint does not contain");
            }

            if (pushed is not null)
            {
                previousString = lastString;
                lastString = pushed;
            }
            else if (op != 0x94)
            {
                // MEMOIZE between a string and STACK_GLOBAL keeps the pair; anything else breaks it.
                previousString = lastString = null;
            }
        }
    }

    private static void RequireAllowed(string module, string name, string source)
    {
        if (AllowedGlobals.Contains($"{module} {name}"))
        {
            return;
        }

        var hint = module.StartsWith("numpy", StringComparison.Ordinal)
            ? " (numpy values: save only the tensors, for example torch.save(model.state_dict(), path), or convert " +
              "the file to safetensors)"
            : module == "torch._utils" && name == "_rebuild_parameter"
                ? " (nn.Parameter objects: save model.state_dict(), whose values are plain tensors)"
                : module.StartsWith("torch", StringComparison.Ordinal)
                    ? " (a pickled module or other torch object: save model.state_dict() instead)"
                    : " (a Python object or function, never part of a tensor-only checkpoint; it was not run)";
        throw Invalid(source, $"it refers to {module}.{name}{hint}");
    }

    private static int Length(ReadOnlySpan<byte> pickle, ref int position, int width, string source)
    {
        if (pickle.Length - position < width)
        {
            throw Invalid(source, "it ends inside an opcode's argument (truncated?)");
        }

        var bytes = pickle.Slice(position, width);
        position += width;
        ulong value = width switch
        {
            1 => bytes[0],
            4 => BinaryPrimitives.ReadUInt32LittleEndian(bytes),
            _ => BinaryPrimitives.ReadUInt64LittleEndian(bytes),
        };
        if (value > (ulong)(pickle.Length - position))
        {
            throw Invalid(source, $"an opcode declares {value} bytes but only {pickle.Length - position} follow");
        }

        return (int)value;
    }

    private static void Skip(ReadOnlySpan<byte> pickle, ref int position, int count, string source)
    {
        if (pickle.Length - position < count)
        {
            throw Invalid(source, "it ends inside an opcode's argument (truncated?)");
        }

        position += count;
    }

    private static string Text(ReadOnlySpan<byte> pickle, ref int position, int count, string source)
    {
        var text = Encoding.Latin1.GetString(pickle.Slice(position, count));
        position += count;
        return text;
    }

    private static string Line(ReadOnlySpan<byte> pickle, ref int position, string source)
    {
        var end = pickle[position..].IndexOf((byte)'\n');
        if (end < 0)
        {
            throw Invalid(source, "a text argument has no terminating newline (truncated?)");
        }

        var text = Encoding.Latin1.GetString(pickle.Slice(position, end));
        position += end + 1;
        return text;
    }

    private static InvalidDataException Invalid(string source, string reason) =>
        new($"'{source}' is not a tensor-only torch.save checkpoint: {reason}.");
}
