namespace Shaper.Limiting;

/// <summary>Receives one tracked key and its state from <see cref="LimiterTable{TKey,TState,TLimiter}.VisitEntries"/>.</summary>
public delegate void EntryVisitor<TKey, TState>(in TKey key, in TState state);
