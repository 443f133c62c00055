namespace MLNet.PromptTuning.Methods.Tcpa;

/// <summary>
/// Which of TCPA's two visibility rules are on (the official code's <c>--RDVP</c> and <c>--TDVP</c> flags).
/// </summary>
public enum TcpaCoordination
{
    /// <summary>
    /// No rule: every token sees every pool prompt, which is VPT-Deep with the prompts acting only as keys and values
    /// (the base method, for ablations). No keys, no matching loss.
    /// </summary>
    None,

    /// <summary>
    /// Role level (R-TCPA, <c>--RDVP</c>): class tokens see only the class-prompt pool, patch tokens only the
    /// image-prompt pool. No keys, no matching loss.
    /// </summary>
    Role,

    /// <summary>
    /// Role and token level (R-TCPA + T-TCPA, <c>--RDVP --TDVP</c>, the default): within its role's pool, each token
    /// sees only the top-k entries whose learnable keys best match it.
    /// </summary>
    RoleAndToken,
}
