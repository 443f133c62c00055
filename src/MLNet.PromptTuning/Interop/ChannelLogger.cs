using Microsoft.ML.Runtime;
using MLNet.PromptTuning.Training;

namespace MLNet.PromptTuning.Interop;

/// <summary>Forwards the training engine's log lines to an ML.NET channel, so they appear in
/// <c>MLContext.Log</c>.</summary>
internal sealed class ChannelLogger : ITrainingLogger
{
    private readonly IChannel _channel;

    public ChannelLogger(IChannel channel)
    {
        _channel = channel;
    }

    public void Log(TrainingLogLevel level, string message)
    {
        switch (level)
        {
            case TrainingLogLevel.Warning:
                _channel.Warning(MessageSensitivity.None, message);
                break;
            case TrainingLogLevel.Information:
                _channel.Info(MessageSensitivity.None, message);
                break;
            default:
                _channel.Trace(MessageSensitivity.None, message);
                break;
        }
    }
}
