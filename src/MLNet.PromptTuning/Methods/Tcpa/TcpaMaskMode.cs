namespace MLNet.PromptTuning.Methods.Tcpa;

/// <summary>How TCPA hides a pool prompt from a token.</summary>
public enum TcpaMaskMode
{
    /// <summary>
    /// The official code (default): the attention weights are multiplied by the 0/1 visibility mask after softmax,
    /// without renormalising, so hidden prompts still enlarge the softmax denominator and a row's weights sum to less
    /// than one.
    /// </summary>
    PostSoftmaxMultiply,

    /// <summary>
    /// The paper's equations read literally: hidden prompts get a −∞ logit before softmax, so attention is
    /// renormalised over the visible keys and a token is fully independent of the prompts it cannot see.
    /// </summary>
    PreSoftmaxNegativeInfinity,
}
