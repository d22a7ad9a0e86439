namespace Shaper.Rules;

/// <summary>The words the file uses for each enum, in the order messages list them.</summary>
internal static class Choices
{
    public static readonly (string Name, AlgorithmKind Value)[] Algorithm =
    [
        ("token_bucket", AlgorithmKind.TokenBucket),
        ("leaky_bucket", AlgorithmKind.LeakyBucket),
        ("fixed_window", AlgorithmKind.FixedWindow),
        ("sliding_log", AlgorithmKind.SlidingLog),
        ("sliding_window", AlgorithmKind.SlidingWindow),
    ];

    public static readonly (string Name, EnforceKind Value)[] Enforce =
    [
        ("kernel", EnforceKind.Kernel),
        ("observe", EnforceKind.Observe),
        ("queue", EnforceKind.Queue),
    ];

    public static readonly (string Name, RuleAction Value)[] Action =
    [
        ("drop", RuleAction.Drop),
        ("reject", RuleAction.Reject),
        ("block", RuleAction.Block),
        ("log", RuleAction.Log),
    ];

    public static readonly (string Name, RuleMode Value)[] Mode =
    [
        ("hard", RuleMode.Hard),
        ("soft", RuleMode.Soft),
    ];

    public static readonly (string Name, RuleScope Value)[] Scope =
    [
        ("host", RuleScope.Host),
        ("fleet", RuleScope.Fleet),
    ];

    public static readonly (string Name, Protocol Value)[] Proto =
    [
        ("tcp", Protocol.Tcp),
        ("udp", Protocol.Udp),
        ("icmp", Protocol.Icmp),
        ("icmpv6", Protocol.Icmpv6),
        ("any", Protocol.Any),
    ];

    public static readonly (string Name, BackendKind Value)[] Backend =
    [
        ("auto", BackendKind.Auto),
        ("nftables", BackendKind.Nftables),
        ("iptables", BackendKind.Iptables),
        ("none", BackendKind.None),
    ];

    public static string NameOf<T>((string Name, T Value)[] choices, T value)
        where T : struct, Enum
    {
        foreach (var (name, candidate) in choices)
        {
            if (EqualityComparer<T>.Default.Equals(candidate, value))
            {
                return name;
            }
        }

        return value.ToString();
    }
}
