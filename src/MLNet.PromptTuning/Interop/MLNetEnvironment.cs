using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

namespace MLNet.PromptTuning.Interop;

/// <summary>Reaches the <see cref="IHostEnvironment"/> that ML.NET keeps inside its catalogs.</summary>
internal static class MLNetEnvironment
{
    /// <summary>
    /// The environment behind <c>mlContext.MulticlassClassification.Trainers</c>: the MLContext itself, with its seed,
    /// log, cancellation and GPU settings. ML.NET's own trainers get it the same way (the accessor is internal).
    /// </summary>
    public static IHostEnvironment GetEnvironment(MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return CatalogUtils.GetEnvironment(catalog);
    }
}
