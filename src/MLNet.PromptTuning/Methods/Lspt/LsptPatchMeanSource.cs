namespace MLNet.PromptTuning.Methods.Lspt;

/// <summary>Which patch tokens LSPT averages into the spatial code after block l.</summary>
public enum LsptPatchMeanSource
{
    /// <summary>The patch tokens block l produced (reconstruction R1, the default).</summary>
    BlockOutput,

    /// <summary>The patch tokens that entered block l.</summary>
    BlockInput,
}
