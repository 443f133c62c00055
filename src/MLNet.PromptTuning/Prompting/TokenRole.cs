namespace MLNet.PromptTuning.Prompting;

/// <summary>What a segment of the token sequence holds.</summary>
public enum TokenRole
{
    /// <summary>Prefix tokens of the backbone (the class token).</summary>
    Prefix,

    /// <summary>Learned or generated prompt tokens owned by a method.</summary>
    Prompt,

    /// <summary>Patch tokens of the image.</summary>
    Patches,
}
