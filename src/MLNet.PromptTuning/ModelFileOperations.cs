using System.Reflection;
using System.Runtime.ExceptionServices;
using Microsoft.ML;
using MLNet.PromptTuning.Persistence;
using MLNet.PromptTuning.Runtime;

namespace MLNet.PromptTuning;

/// <summary>
/// Saving and loading ML.NET model files safely: <see cref="SaveAtomically"/> never leaves a torn file, and
/// <see cref="Load(ModelOperationsCatalog, string, out DataViewSchema, bool)"/> checks the whole zip before ML.NET
/// reads it and lets only a small, documented set of exceptions out. Both work for any ML.NET model, with or without
/// a <see cref="PromptViTTransformer"/> in it.
/// </summary>
/// <remarks>
/// ML.NET's own <c>Model.Save(model, schema, path)</c> truncates the file and then writes it: a process killed
/// mid-save leaves a partial zip and the previous model is gone. ML.NET's <c>Model.Load</c> does not check the zip's
/// CRCs; a <see cref="PromptViTTransformer"/> inside it still checks its own weights against the digests saved with
/// them. See docs/reliability.md.
/// </remarks>
public static class ModelFileOperations
{
    /// <summary>
    /// Saves <paramref name="model"/> like <c>mlContext.Model.Save(model, inputSchema, filePath)</c>, but atomically:
    /// the zip is written to a temporary file in the same folder, flushed to disk and renamed over
    /// <paramref name="filePath"/>. If the process is killed at any moment, the path holds the previous complete model
    /// or the new one. Temporary files that killed saves of the same path left behind are removed first.
    /// </summary>
    /// <param name="catalog">The model catalog (<c>mlContext.Model</c>).</param>
    /// <param name="model">The trained model or pipeline.</param>
    /// <param name="inputSchema">The schema of the data the model expects (may be null, as in ML.NET).</param>
    /// <param name="filePath">The model file to create or replace; its folder is created if needed.</param>
    public static void SaveAtomically(this ModelOperationsCatalog catalog, ITransformer model,
        DataViewSchema? inputSchema, string filePath)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentException.ThrowIfNullOrWhiteSpace(filePath);
        AtomicFile.Write(filePath, stream => catalog.Save(model, inputSchema, stream));
    }

    /// <summary>
    /// Loads a model saved by <see cref="SaveAtomically"/> or ML.NET's <c>Model.Save</c>. With
    /// <paramref name="verifyIntegrity"/> (the default of ML.NET's own overload too, as far as PromptViT weights go),
    /// every zip entry is checked against its CRC-32 before ML.NET reads it, and a PromptViT model's weights against
    /// the digests saved with them.
    /// </summary>
    /// <param name="catalog">The model catalog (<c>mlContext.Model</c>).</param>
    /// <param name="filePath">The model file.</param>
    /// <param name="inputSchema">The schema the model was saved with.</param>
    /// <param name="verifyIntegrity">
    /// False skips both checks (a PromptViT model then loads even if its weights differ from what was saved; use it
    /// only to recover what can be recovered from a damaged file).
    /// </param>
    /// <returns>The loaded model.</returns>
    /// <exception cref="FileNotFoundException">There is no file at <paramref name="filePath"/>.</exception>
    /// <exception cref="InvalidDataException">The file is damaged, not a model, or its weights differ from their
    /// digests; the message names the file and, where known, the entry. Any other failure while reading is wrapped
    /// in this exception, with the original as <see cref="Exception.InnerException"/>.</exception>
    /// <exception cref="NotSupportedException">The model holds a component or version this library cannot
    /// read.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    /// <exception cref="UnauthorizedAccessException">The file may not be read.</exception>
    /// <exception cref="OutOfMemoryException">The machine cannot hold the model.</exception>
    public static ITransformer Load(this ModelOperationsCatalog catalog, string filePath,
        out DataViewSchema inputSchema, bool verifyIntegrity)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentException.ThrowIfNullOrWhiteSpace(filePath);
        var fullPath = Path.GetFullPath(filePath);
        if (!File.Exists(fullPath))
        {
            throw new FileNotFoundException($"There is no model file at '{fullPath}'.", fullPath);
        }

        try
        {
            if (verifyIntegrity)
            {
                ModelZipIntegrity.Check(fullPath);
            }

            using var skip = verifyIntegrity ? null : SavedModelVerification.Skip();
            using var stream = new FileStream(fullPath, FileMode.Open, FileAccess.Read, FileShare.Read);
            return catalog.Load(stream, out inputSchema);
        }
        catch (Exception e)
        {
            var cause = Unwrap(e);
            // A FileNotFoundException in here is about an assembly the model names (possibly a damaged name), not
            // about the model file, which exists: it is wrapped like any other failure to read the model.
            if (cause is InvalidDataException or NotSupportedException or OutOfMemoryException or
                UnauthorizedAccessException || cause.GetType() == typeof(IOException))
            {
                ExceptionDispatchInfo.Capture(cause).Throw();
            }

            throw new InvalidDataException(
                $"'{fullPath}' could not be loaded as an ML.NET model ({cause.GetType().Name}: {cause.Message}).",
                cause);
        }
    }

    /// <summary>ML.NET creates loaders by reflection; the loader's own exception is the one that explains.</summary>
    private static Exception Unwrap(Exception e)
    {
        while (e is TargetInvocationException { InnerException: { } inner })
        {
            e = inner;
        }

        return e;
    }
}
