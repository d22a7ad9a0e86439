using Shaper.Rules;

namespace Shaper.Plan;

/// <summary>
/// Whether a rule's per-key limiter state (tokens, windows, logs, counters) can outlive a reload: it can when the
/// rule keeps its name, enforcer, algorithm, key and limits; anything else about it (match, action, mode) may change.
/// </summary>
public static class LimiterChange
{
    /// <summary>Why <paramref name="after"/> cannot keep the state of <paramref name="before"/>; null when it can.</summary>
    public static string? Reason(Rule before, Rule after)
    {
        ArgumentNullException.ThrowIfNull(before);
        ArgumentNullException.ThrowIfNull(after);
        if (before.Enforce != after.Enforce)
        {
            return $"enforce {Name(before.Enforce)} -> {Name(after.Enforce)}";
        }

        if (before.Scope != after.Scope)
        {
            return $"scope {Choices.NameOf(Choices.Scope, before.Scope)} -> {Choices.NameOf(Choices.Scope, after.Scope)}";
        }

        if (before.Algorithm != after.Algorithm)
        {
            return $"algorithm {Choices.NameOf(Choices.Algorithm, before.Algorithm)} -> {Choices.NameOf(Choices.Algorithm, after.Algorithm)}";
        }

        if (before.Per != after.Per)
        {
            return $"per {before.Per} -> {after.Per}";
        }

        if (before.Rate?.Rate != after.Rate?.Rate || before.Rate?.Unit != after.Rate?.Unit)
        {
            return $"rate {before.Rate?.Text ?? "none"} -> {after.Rate?.Text ?? "none"}";
        }

        if (before.Burst != after.Burst)
        {
            return $"burst {before.Burst} -> {after.Burst}";
        }

        if (before.Limit != after.Limit)
        {
            return $"limit {before.Limit} -> {after.Limit}";
        }

        if (before.Window != after.Window)
        {
            return $"window {before.Window} -> {after.Window}";
        }

        return before.Queue != after.Queue ? $"queue {before.Queue} -> {after.Queue}" : null;
    }

    /// <summary>
    /// The rules of <paramref name="after"/> that start with fresh state, each with why: changed ones (see
    /// <see cref="Reason"/>), and all of them when <c>max_keys</c> changed (the key tables are sized by it). New rules
    /// start fresh too but are not resets.
    /// </summary>
    public static IReadOnlyList<(string Rule, string Reason)> Resets(EnforcementPlan? before, EnforcementPlan after)
    {
        ArgumentNullException.ThrowIfNull(after);
        var resets = new List<(string, string)>();
        if (before is null)
        {
            return resets;
        }

        var maxKeysChanged = before.Config.Daemon.MaxKeys != after.Config.Daemon.MaxKeys;
        foreach (var planned in after.Rules)
        {
            if (before.Find(planned.Rule.Name) is not { } old)
            {
                continue;
            }

            var reason = Reason(old.Rule, planned.Rule)
                ?? (maxKeysChanged ? $"max_keys {before.Config.Daemon.MaxKeys} -> {after.Config.Daemon.MaxKeys}" : null);
            if (reason is not null)
            {
                resets.Add((planned.Rule.Name, reason));
            }
        }

        return resets;
    }

    private static string Name(EnforceKind kind) => Choices.NameOf(Choices.Enforce, kind);
}
