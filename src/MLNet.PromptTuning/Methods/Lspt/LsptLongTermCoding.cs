namespace MLNet.PromptTuning.Methods.Lspt;

/// <summary>How the LSTM shared across blocks turns the spatially coded prompts S into the long-term prompts
/// U.</summary>
public enum LsptLongTermCoding
{
    /// <summary>U is the LSTM's output (its hidden state, projected when narrower than the tokens); reconstruction R1,
    /// the default.</summary>
    Replace,

    /// <summary>U = S + the LSTM's output: the LSTM adds a long-term correction (reconstruction R2).</summary>
    Residual,

    /// <summary>No LSTM: U = S. With <see cref="LsptSpatialCoding.Off"/> as well, LSPT is exactly GaPT.</summary>
    Off,
}
