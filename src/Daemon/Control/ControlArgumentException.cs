namespace Shaper.Daemon.Control;

/// <summary>A request argument of the wrong type or value; its message is the one-line answer to the client.</summary>
internal sealed class ControlArgumentException(string message) : Exception(message);
