namespace MLNet.PromptTuning.Methods.Vpt;

/// <summary>Where VPT places prompts.</summary>
public enum VptDepth
{
    /// <summary>One set of prompts inserted before the first block; they travel through every block
    /// (VPT-Shallow).</summary>
    Shallow,

    /// <summary>A fresh set of prompts at the input of every block; the previous block's prompt outputs are discarded
    /// (VPT-Deep).</summary>
    Deep,
}
