namespace Shaper.Daemon;

/// <summary>The last reload or <c>rules apply</c> that changed nothing: what asked for it, why it failed, and when.</summary>
internal sealed record ReloadFailure(string Trigger, string Reason, DateTimeOffset At);
