namespace MLNet.PromptTuning.Benchmarks.Datasets;

/// <summary>How <see cref="ImageFileLoader"/> brings an image of any size to the stored size.</summary>
public enum ImageFit
{
    /// <summary>Resize straight to the stored size, ignoring the aspect ratio (VTAB-1k's 224×224 "squash").</summary>
    Stretch,

    /// <summary>
    /// Resize the shorter side to the stored size divided by the crop fraction (224 → 256 at the default 0.875),
    /// keeping the aspect ratio, then cut the centre (torchvision's <c>Resize(256)</c> + <c>CenterCrop(224)</c>, the
    /// FGVC evaluation transform).
    /// </summary>
    CenterCrop,
}
