namespace Shaper.Replay;

/// <summary>An input that cannot be replayed; the message is one line naming the file (and row) for the user.</summary>
public sealed class ReplayInputException : Exception
{
    /// <summary>Creates the exception with a one-line message.</summary>
    public ReplayInputException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a one-line message and its cause.</summary>
    public ReplayInputException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception.</summary>
    public ReplayInputException()
    {
    }
}
