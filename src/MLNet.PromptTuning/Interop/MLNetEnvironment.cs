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
    public static IHostEnvironment GetEnvironment(
        MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return CatalogUtils.GetEnvironment(catalog);
    }

    /// <summary>The MLContext's seed, or null when it was created without one.</summary>
    public static int? GetSeed(IHostEnvironment environment) => (environment as IHostEnvironmentInternal)?.Seed;

    /// <summary>The MLContext's <c>GpuDeviceId</c>, or null when GPU use was not requested.</summary>
    public static int? GetGpuDeviceId(IHostEnvironment environment) =>
        (environment as IHostEnvironmentInternal)?.GpuDeviceId;

    /// <summary>The MLContext's <c>FallbackToCpu</c>: whether a missing GPU falls back to the CPU (default
    /// true).</summary>
    public static bool GetFallbackToCpu(IHostEnvironment environment) =>
        (environment as IHostEnvironmentInternal)?.FallbackToCpu ?? true;
}
