using Microsoft.ML;

namespace MLNet.PromptTuning.Interop;

/// <summary>
/// Identity and version range of one saved component, the data ML.NET writes into each sub-model header.
/// </summary>
/// <param name="ModelSignature">Exactly 8 ASCII characters identifying the binary format.</param>
/// <param name="LoaderSignature">The name ML.NET looks up the loader by; must equal the loadable-class name
/// registered with <c>[assembly: LoadableClass(…)]</c>. At most 23 ASCII characters (the header's fixed field).</param>
/// <param name="VersionWritten">Version this code writes.</param>
/// <param name="VersionReadable">Oldest reader version that can read what this code writes.</param>
/// <param name="VersionWeCanReadBack">Oldest written version this code can read.</param>
/// <param name="LoaderAssembly">The assembly that declares the loader with <c>[assembly: LoadableClass]</c>; ML.NET
/// loads it by name when it meets the model. Default: this library.</param>
internal sealed record ModelFormat(
    string ModelSignature,
    string LoaderSignature,
    uint VersionWritten,
    uint VersionReadable,
    uint VersionWeCanReadBack,
    System.Reflection.Assembly? LoaderAssembly = null)
{
    // ModelHeader stores the loader signature in a fixed 24-char field, terminator included.
    private const int MaxLoaderSignatureLength = 23;

    /// <summary>
    /// The header data. <c>loaderAssemblyName</c> is the loader's assembly (this library by default), so ML.NET loads
    /// and registers it by itself when it meets the model: loading needs no <c>ComponentCatalog.RegisterAssembly</c>
    /// call.
    /// </summary>
    internal VersionInfo ToVersionInfo()
    {
        if (ModelSignature.Length != 8 || ModelSignature.Any(c => c > 0x7f))
        {
            throw new InvalidOperationException(
                $"A model signature must be exactly 8 ASCII characters; '{ModelSignature}' is not.");
        }

        if (LoaderSignature.Length is 0 or > MaxLoaderSignatureLength || LoaderSignature.Any(c => c > 0x7f))
        {
            throw new InvalidOperationException(
                $"A loader signature must be 1 to {MaxLoaderSignatureLength} ASCII characters; '{LoaderSignature}' " +
                $"is " +
                $"not.");
        }

        return new VersionInfo(
            modelSignature: ModelSignature,
            verWrittenCur: VersionWritten,
            verReadableCur: VersionReadable,
            verWeCanReadBack: VersionWeCanReadBack,
            loaderSignature: LoaderSignature,
            loaderAssemblyName: (LoaderAssembly ?? typeof(ModelFormat).Assembly).FullName);
    }
}
