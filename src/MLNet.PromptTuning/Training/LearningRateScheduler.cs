namespace MLNet.PromptTuning.Training;

/// <summary>
/// The multiplier on the base learning rate for every step of a run (see <see cref="LearningRateSchedule"/> for
/// the formulas). Stateless: the rate depends only on the position, which makes resuming exact.
/// </summary>
internal sealed class LearningRateScheduler
{
    private readonly LearningRateSchedule _schedule;
    private readonly int _epochs;
    private readonly int _stepsPerEpoch;
    private readonly double _warmupEpochs;
    private readonly long _warmupSteps;
    private readonly long _totalSteps;

    public LearningRateScheduler(LearningRateSchedule schedule, double warmupEpochs, int epochs, int stepsPerEpoch)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(epochs);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(stepsPerEpoch);
        _schedule = schedule;
        _epochs = epochs;
        _stepsPerEpoch = stepsPerEpoch;
        _warmupEpochs = warmupEpochs;
        _totalSteps = (long)epochs * stepsPerEpoch;
        _warmupSteps = Math.Min(_totalSteps,
            (long)Math.Round(warmupEpochs * stepsPerEpoch, MidpointRounding.AwayFromZero));
    }

    /// <summary>Number of warmup steps of the per-step schedules.</summary>
    public long WarmupSteps => _warmupSteps;

    /// <summary>Multiplier for step <paramref name="stepInEpoch"/> of 0-based <paramref name="epoch"/>.</summary>
    public double Factor(int epoch, int stepInEpoch)
    {
        if (_schedule == LearningRateSchedule.CosinePerEpoch)
        {
            if (epoch < _warmupEpochs)
            {
                return epoch / _warmupEpochs;
            }

            return HalfCosine((epoch - _warmupEpochs) / (_epochs - _warmupEpochs));
        }

        long step = (long)epoch * _stepsPerEpoch + stepInEpoch;
        if (step < _warmupSteps)
        {
            return (step + 1) / (double)_warmupSteps;
        }

        return _schedule == LearningRateSchedule.Constant
            ? 1.0
            : HalfCosine((step - _warmupSteps) / (double)(_totalSteps - _warmupSteps));
    }

    private static double HalfCosine(double progress) => 0.5 * (1.0 + Math.Cos(Math.PI * progress));
}
