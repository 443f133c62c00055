using Microsoft.ML.Runtime;
using MLNet.PromptTuning.Training;

namespace MLNet.PromptTuning.Interop;

/// <summary>
/// Receives the engine's per-step progress: checks the MLContext for cancellation (so <c>CancelExecution</c> stops
/// training between steps) and passes the report on to the user's callback.
/// </summary>
internal sealed class ProgressRelay : IProgress<TrainingProgress>
{
    private readonly IHost _host;
    private readonly IProgress<TrainingProgress>? _user;

    public ProgressRelay(IHost host, IProgress<TrainingProgress>? user)
    {
        _host = host;
        _user = user;
    }

    public void Report(TrainingProgress value)
    {
        _host.CheckAlive();
        _user?.Report(value);
    }
}
