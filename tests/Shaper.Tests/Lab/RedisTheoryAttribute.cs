namespace Shaper.Tests.Lab;

/// <summary>A theory that starts its own redis-server: skipped, saying why, when redis-server is not installed.</summary>
public sealed class RedisTheoryAttribute : TheoryAttribute
{
    public RedisTheoryAttribute() => Skip = RedisServer.IsInstalled ? null : "redis-server is not installed (packaging/install-deps.sh installs it)";
}
