namespace MLNet.PromptTuning.Benchmarks.Datasets;

/// <summary>One image file of a benchmark split and its class index.</summary>
/// <param name="Path">Full path of the image file.</param>
/// <param name="Label">Zero-based class index.</param>
public readonly record struct LabeledImageFile(string Path, int Label);
