using System.Security.Cryptography;
using System.Text;
using static TorchSharp.torch;

namespace MLNet.PromptTuning.Tests.Reliability;

/// <summary>Digests of loaded tensors and configurations: did a load change any value?</summary>
internal static class LoadDigests
{
    public static string Of(IEnumerable<KeyValuePair<string, Tensor>> tensors)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var (name, tensor) in tensors.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            hash.AppendData(Encoding.UTF8.GetBytes($"{name}|{tensor.dtype}|{string.Join(",", tensor.shape)}|"));
            using var contiguous = tensor.contiguous();
            hash.AppendData(contiguous.bytes);
        }

        return Convert.ToHexString(hash.GetHashAndReset());
    }

    public static string Of(string text) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
}
