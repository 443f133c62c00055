namespace MLNet.PromptTuning.Methods.Lspt;

/// <summary>Where LSPT adds the spatial code (the mean patch token) to the prompts.</summary>
public enum LsptSpatialCoding
{
    /// <summary>Added to the block's output prompts before the LSTM step (reconstruction R1, the default).</summary>
    OutputPrompts,

    /// <summary>Added to the prompts entering the next block, after the gate (reconstruction R4).</summary>
    InputPrompts,

    /// <summary>No spatial code. With <see cref="LsptLongTermCoding.Off"/> as well, LSPT is exactly GaPT.</summary>
    Off,
}
