namespace Shaper.Daemon;

/// <summary>What the command line gave shaperd.</summary>
/// <param name="ConfigPath">The TOML configuration.</param>
/// <param name="SocketOverride">A control socket path that replaces <c>[daemon].socket</c>; null keeps it.</param>
internal sealed record DaemonArguments(string ConfigPath, string? SocketOverride);
