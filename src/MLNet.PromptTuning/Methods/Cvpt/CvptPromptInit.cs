namespace MLNet.PromptTuning.Methods.Cvpt;

/// <summary>How CVPT's prompts are initialised (the official code's <c>init</c> switch).</summary>
public enum CvptPromptInit
{
    /// <summary>
    /// Xavier-uniform on the whole [L, P, D] tensor, i.e. uniform in ±sqrt(6 / ((P + L)·D)) (official <c>init = 1</c>,
    /// the default).
    /// </summary>
    XavierUniform,

    /// <summary>All zeros (official <c>init = 0</c>; an ablation).</summary>
    Zeros,
}
