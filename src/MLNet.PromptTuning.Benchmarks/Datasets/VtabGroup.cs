namespace MLNet.PromptTuning.Benchmarks.Datasets;

/// <summary>The three groups VTAB-1k's 19 tasks are reported in.</summary>
public enum VtabGroup
{
    /// <summary>Natural images: CIFAR-100, Caltech101, DTD, Flowers102, Pets, SVHN, Sun397.</summary>
    Natural,

    /// <summary>Specialised imaging: Patch Camelyon, EuroSAT, Resisc45, Diabetic Retinopathy.</summary>
    Specialized,

    /// <summary>Structure: Clevr, DMLab, KITTI, dSprites and smallNORB tasks.</summary>
    Structured,
}
