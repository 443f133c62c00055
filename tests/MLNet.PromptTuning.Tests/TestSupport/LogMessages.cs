using Microsoft.ML;

namespace MLNet.PromptTuning.Tests.TestSupport;

/// <summary>Collects the messages an MLContext logs (its Log event may fire from several threads).</summary>
internal sealed class LogMessages
{
    private readonly List<string> _messages = new();

    public LogMessages(MLContext mlContext)
    {
        mlContext.Log += (_, e) =>
        {
            lock (_messages)
            {
                _messages.Add(e.Message);
            }
        };
    }

    /// <summary>A copy of the messages so far.</summary>
    public IReadOnlyList<string> All
    {
        get
        {
            lock (_messages)
            {
                return _messages.ToArray();
            }
        }
    }

    public void Clear()
    {
        lock (_messages)
        {
            _messages.Clear();
        }
    }
}
