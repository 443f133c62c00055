using System.Text;

namespace MLNet.PromptTuning.Tests.Reliability;

/// <summary>
/// Damage to a <c>torch.save</c> pickle (<c>data.pkl</c>): format-blind byte damage, and hostile content a real
/// attacker would write: a call to <c>os.system</c> or <c>builtins.eval</c> that would create
/// <paramref name="marker"/> if it ever ran, a numpy scalar, a length field far beyond the file, and deep nesting.
/// The pickle has no checksum of its own, so any change that still unpickles to tensors is undetectable by design.
/// </summary>
internal static class PickleMutations
{
    public static Mutation Any(Random random, byte[] original, string marker)
    {
        if (random.Next(2) == 0)
        {
            return ByteMutations.Any(random, original, (at, count) => true);
        }

        var command = $"touch {marker}";
        byte[] payload;
        string description;
        switch (random.Next(5))
        {
            case 0:
                payload = Ascii($"cposix\nsystem\n(S'{command}'\ntR0");
                description = "a call to posix.system inserted";
                break;
            case 1:
                payload = Ascii($"cbuiltins\neval\n(S'__import__(\"os\").system(\"{command}\")'\ntR0");
                description = "a call to builtins.eval inserted";
                break;
            case 2:
                payload = Ascii("cnumpy.core.multiarray\nscalar\n(tR0");
                description = "a numpy scalar inserted";
                break;
            case 3:
                payload = [(byte)'X', 0xFF, 0xFF, 0xFF, 0x7F, (byte)'0'];
                description = "a BINUNICODE declaring 2 GB inserted";
                break;
            default:
                var depth = random.Next(2) == 0 ? 300 : 100_000;
                payload = [.. Enumerable.Repeat((byte)'(', depth), .. Enumerable.Repeat((byte)'1', depth)];
                description = $"{depth} nested marks inserted";
                break;
        }

        // After PROTO 2 (two bytes), so the payload runs before anything else.
        byte[] bytes = [.. original[..2], .. payload, .. original[2..]];
        return new Mutation("pickle-payload", description, bytes, Detectable: true);
    }

    private static byte[] Ascii(string text) => Encoding.ASCII.GetBytes(text);
}
