namespace MLNet.PromptTuning.Samples.Benchmarks;

/// <summary>
/// Matrix-multiply FLOPs per image (a multiply-add counts 2) of a ViT's qkv, attention, output projection and MLP
/// matrices, extended to TCPA's extra keys and values. Element-wise work is ignored, so the fraction of peak is a
/// lower bound on efficiency.
/// </summary>
internal static class FlopModel
{
    private const int VptPrompts = 10;
    private const int TcpaPoolTokens = 36; // 18 class + 18 image entries of one token
    private const int TcpaPoolSize = 18;

    public static double Forward(string model, string mode) => Parts(model, mode).Forward;

    public static double TrainingStep(string model, string mode)
    {
        var p = Parts(model, mode);
        return mode switch
        {
            // Only the head trains: its weight gradient is the whole backward pass.
            "linear" => p.Forward + p.Head,
            // Input gradients through every frozen linear, both attention operands, the extra k/v projection and the
            // head; no weight gradients for the backbone and no backward through the patch convolution.
            "vpt" or "tcpa" => p.Forward + p.Depth * (p.Linears + 2 * p.Attention + p.Extra + p.Selection) + 2 * p.Head,
            // Input and weight gradients everywhere; the patch convolution needs its weight gradient only.
            "full" => 3 * (p.Depth * (p.Linears + p.Attention) + p.Head) + 2 * p.Conv,
            _ => throw new ArgumentException($"Unknown mode '{mode}'."),
        };
    }

    private static FlopParts Parts(string model, string mode)
    {
        var c = BenchModels.Config(model);
        double d = c.EmbedDim;
        double patches = c.NumPatches;
        double tokens = 1 + patches + (mode == "vpt" ? VptPrompts : 0);
        double keys = tokens + (mode == "tcpa" ? TcpaPoolTokens : 0);
        double linears = 2 * tokens * d * (3 * d + d + 2 * c.MlpHiddenDim);       // qkv, proj, fc1, fc2
        double attention = 4 * tokens * keys * d;                                 // q·kᵀ and weights·v
        double extra = mode == "tcpa" ? 2 * TcpaPoolTokens * d * 2 * d : 0;        // per-sample k/v of pool prompts
        double selection = mode == "tcpa" ? 2 * tokens * TcpaPoolSize * d : 0;    // cosine similarity to the keys
        double conv = 2 * patches * c.InChannels * c.PatchSize * c.PatchSize * d;
        double head = 2 * d * BenchModels.Classes;
        double forward = conv + c.Depth * (linears + attention + extra + selection) + head;
        return new FlopParts(c.Depth, linears, attention, extra, selection, conv, head, forward);
    }

    private sealed record FlopParts(
        int Depth, double Linears, double Attention, double Extra, double Selection, double Conv, double Head,
            double Forward);
}
