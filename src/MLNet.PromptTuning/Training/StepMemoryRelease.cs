using MLNet.PromptTuning.Runtime;

namespace MLNet.PromptTuning.Training;

/// <summary>
/// When to hand finished steps' memory back (see <see cref="TrainingOptions.ReleaseMemoryEveryNSteps"/>): a young-
/// generation collection every N steps and at the end of each epoch, and glibc's trim once per epoch only, since a
/// trim hands back pages that the next steps fault in again (it lowers the average resident memory, not the peak).
/// </summary>
internal sealed class StepMemoryRelease
{
    private readonly int _everyNSteps;

    public StepMemoryRelease(int everyNSteps)
    {
        _everyNSteps = everyNSteps;
    }

    /// <summary>Called after a step's dispose scope has freed its tensors.</summary>
    public void AfterStep(long globalStep, bool lastStepOfEpoch)
    {
        if (_everyNSteps <= 0 || (globalStep % _everyNSteps != 0 && !lastStepOfEpoch))
        {
            return;
        }

        MemoryRelease.CollectYoungObjects();
        if (lastStepOfEpoch)
        {
            MemoryRelease.TrimNativeHeap();
        }
    }
}
