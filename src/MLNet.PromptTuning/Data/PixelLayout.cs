namespace MLNet.PromptTuning.Data;

/// <summary>How the bytes of one image are ordered in a flat pixel buffer.</summary>
public enum PixelLayout
{
    /// <summary>Planar: all of channel 0, then channel 1, ... (PyTorch's C×H×W).</summary>
    ChannelsHeightWidth,

    /// <summary>Interleaved: for each pixel, its channel values (H×W×C, as most decoders return).</summary>
    HeightWidthChannels,
}
