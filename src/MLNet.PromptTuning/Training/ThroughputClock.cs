namespace MLNet.PromptTuning.Training;

/// <summary>Throughput over the steps of this run (epochs restored from a checkpoint are not counted).</summary>
internal sealed class ThroughputClock
{
    private TimeSpan _elapsed;
    private long _images;
    private long _steps;

    public double ImagesPerSecond => _elapsed > TimeSpan.Zero ? _images / _elapsed.TotalSeconds : 0;

    public void Add(TimeSpan elapsed, long images)
    {
        _elapsed += elapsed;
        _images += images;
        _steps++;
    }

    /// <summary>Time for <paramref name="remainingSteps"/> more steps at the measured rate; null before the first
    /// step.</summary>
    public TimeSpan? Estimate(long remainingSteps) =>
        _steps == 0 ? null : TimeSpan.FromTicks((long)(_elapsed.Ticks / (double)_steps * remainingSteps));
}
