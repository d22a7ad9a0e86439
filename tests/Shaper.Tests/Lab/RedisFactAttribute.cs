namespace Shaper.Tests.Lab;

/// <summary>A test that starts its own redis-server: skipped, saying why, when redis-server is not installed.</summary>
public sealed class RedisFactAttribute : FactAttribute
{
    public RedisFactAttribute() => Skip = RedisServer.IsInstalled ? null : "redis-server is not installed (packaging/install-deps.sh installs it)";
}
