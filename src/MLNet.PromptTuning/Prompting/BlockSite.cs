namespace MLNet.PromptTuning.Prompting;

/// <summary>
/// Places inside a transformer block where a prompt method may add a side branch (see
/// <see cref="PromptMethod.ContributeAt"/>). Each site receives the block's residual stream at that point; what the
/// method returns is added as described per member. These are CVPT's five insertion positions, named.
/// </summary>
public enum BlockSite
{
    /// <summary>Added to the residual stream before the attention branch (CVPT insert 1).</summary>
    BeforeAttention,

    /// <summary>Added to the attention branch output, in parallel with self-attention (CVPT insert 2).</summary>
    ParallelToAttention,

    /// <summary>Added to the residual stream between the attention and MLP branches (CVPT insert 3, its
    /// default).</summary>
    AfterAttention,

    /// <summary>Added to the normalised MLP input, inside the MLP branch (CVPT insert 4).</summary>
    MlpInput,

    /// <summary>Added to the residual stream after the MLP branch (CVPT insert 5).</summary>
    AfterMlp,
}
