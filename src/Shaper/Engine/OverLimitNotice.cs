using Shaper.Rules;

namespace Shaper.Engine;

/// <summary>
/// One log line's worth about a key over its limit, raised at most once per key per window (the rule's window;
/// one second for bucket rules) by a rule with <c>action = "log"</c> or <c>mode = "soft"</c>: the rule, what it
/// does (or, soft, would have done), the key, the key's counts so far and the packet's timestamp.
/// </summary>
public readonly record struct OverLimitNotice(
    string Rule,
    RuleAction Action,
    RuleMode Mode,
    HeldKey Key,
    long Limited,
    long Passed,
    long WindowNs,
    long TimestampNs);
