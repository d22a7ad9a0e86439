namespace Shaper.Limiting;

/// <summary>A key of a <see cref="LimiterTable{TKey,TState,TLimiter}"/>: a small unmanaged value with its own hash.</summary>
/// <typeparam name="TKey">The key type itself.</typeparam>
public interface ILimiterKey<TKey> : IEquatable<TKey>
    where TKey : unmanaged, ILimiterKey<TKey>
{
    /// <summary>A well-mixed 32-bit hash; the table maps it onto its slots with a multiply, not a modulo.</summary>
    static abstract uint Hash(in TKey key);
}
