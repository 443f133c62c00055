using Microsoft.ML;
using Microsoft.ML.Runtime;
using MLNet.PromptTuning;
using MLNet.PromptTuning.Interop;
using MLNet.PromptTuning.Persistence;

[assembly: LoadableClass(typeof(PromptViTTransformer), typeof(PromptViTTransformerLoader), null,
    typeof(SignatureLoadModel), "Prompt-tuned Vision Transformer", SavedModelFormat.LoaderSignature)]

namespace MLNet.PromptTuning.Interop;

/// <summary>Where ML.NET's component catalog finds <c>Create(IHostEnvironment, ModelLoadContext)</c> for PromptViT
/// models.</summary>
internal static class PromptViTTransformerLoader
{
    // Found by reflection through [assembly: LoadableClass] when mlContext.Model.Load meets a PromptViT entry.
    private static PromptViTTransformer Create(IHostEnvironment env, ModelLoadContext ctx) =>
        PromptViTTransformer.Load(env, ModelReader.Begin(ctx, SavedModelFormat.Format, env));
}
