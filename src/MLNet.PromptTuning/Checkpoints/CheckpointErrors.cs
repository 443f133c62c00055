using System.Runtime.InteropServices;

namespace MLNet.PromptTuning.Checkpoints;

/// <summary>
/// Keeps the promise of the public loading APIs: only a small documented set of exception types leaves them.
/// <list type="bullet">
/// <item><see cref="InvalidDataException"/>: the file is damaged or not what it claims to be (truncated, malformed
/// header, impossible sizes, bad CRC, non-finite weights, a pickle that is not a plain state dict).</item>
/// <item><see cref="NotSupportedException"/>: a valid file with content this library does not read (a dtype, a byte
/// order, a PyTorch pickle when <see cref="CheckpointLoadOptions.AllowPyTorchPickles"/> is off).</item>
/// <item><see cref="CheckpointMismatchException"/>: a valid checkpoint that does not fit the backbone.</item>
/// <item><see cref="IOException"/> (including <see cref="FileNotFoundException"/>) and
/// <see cref="UnauthorizedAccessException"/>: the file cannot be opened or read.</item>
/// <item><see cref="OutOfMemoryException"/>: the machine cannot hold tensors the file really contains (never because
/// of a size the file merely declares).</item>
/// </list>
/// Anything else raised while reading (a bug, or a case no check foresaw) is wrapped in an
/// <see cref="InvalidDataException"/> that names the file and keeps the original as its inner exception.
/// </summary>
internal static class CheckpointErrors
{
    /// <summary>Runs <paramref name="read"/>, wrapping any exception outside the documented set.</summary>
    /// <param name="source">The file, named in the message.</param>
    /// <param name="read">The reading work.</param>
    /// <param name="tensor">The tensor being read, when there is one, named in the message.</param>
    public static T Guard<T>(string source, Func<T> read, string? tensor = null)
    {
        try
        {
            return read();
        }
        catch (Exception e) when (!IsDocumented(e))
        {
            throw Wrap(source, e, tensor);
        }
    }

    /// <summary>Whether <paramref name="e"/> may leave a public loading API as it is.</summary>
    public static bool IsDocumented(Exception e) => e is InvalidDataException or NotSupportedException
        or CheckpointMismatchException or OutOfMemoryException or UnauthorizedAccessException
        or OperationCanceledException
        || (e is IOException && e is not EndOfStreamException);

    /// <summary>The wrapped form of an unexpected exception, naming the file.</summary>
    public static Exception Wrap(string source, Exception e, string? tensor = null)
    {
        var what = tensor is null ? $"'{source}'" : $"Tensor '{tensor}' of '{source}'";
        return e switch
        {
            EndOfStreamException => new InvalidDataException($"{what} is truncated: {e.Message}", e),
            ExternalException when IsOutOfMemory(e) => new OutOfMemoryException(
                $"Reading {what} needs more memory than is available: {FirstLine(e.Message)}", e),
            _ => new InvalidDataException($"{what} could not be read: {e.GetType().Name}: {FirstLine(e.Message)}", e),
        };
    }

    private static bool IsOutOfMemory(Exception e) =>
        e.Message.Contains("not enough memory", StringComparison.OrdinalIgnoreCase) ||
        e.Message.Contains("out of memory", StringComparison.OrdinalIgnoreCase);

    // libtorch messages carry a C++ backtrace after the first line.
    private static string FirstLine(string message)
    {
        var end = message.IndexOf('\n', StringComparison.Ordinal);
        return end < 0 ? message : message[..end];
    }
}
