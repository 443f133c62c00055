namespace MLNet.PromptTuning.Methods.Vpt;

/// <summary>What VPT feeds to the head (the official code's <c>VIT_POOL_TYPE</c>).</summary>
public enum VptPooling
{
    /// <summary>The backbone's own pooling: the final class token for supervised ViTs ("original", the
    /// default).</summary>
    Backbone,

    /// <summary>Mean of the final patch tokens.</summary>
    PatchMean,

    /// <summary>Mean of the final prompt tokens.</summary>
    PromptMean,

    /// <summary>Mean of the final prompt and patch tokens.</summary>
    PromptAndPatchMean,
}
