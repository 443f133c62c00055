using Microsoft.ML;
using Microsoft.ML.Runtime;
using MLNet.PromptTuning;
using MLNet.PromptTuning.Interop;

[assembly: LoadableClass(typeof(PromptViTTransformer), typeof(PromptViTTransformerLoader), null,
    typeof(SignatureLoadModel), "Prompt-tuned Vision Transformer", PromptViTTransformer.LoaderSignature)]

namespace MLNet.PromptTuning.Interop;

/// <summary>Where ML.NET's component catalog finds <c>Create(IHostEnvironment, ModelLoadContext)</c> for PromptViT models.</summary>
internal static class PromptViTTransformerLoader
{
    // Found by reflection through [assembly: LoadableClass] when mlContext.Model.Load meets a PromptViT entry.
    private static PromptViTTransformer Create(IHostEnvironment env, ModelLoadContext ctx) =>
        PromptViTTransformer.Load(env, ModelReader.Begin(ctx, PromptViTTransformer.Format, env));
}
