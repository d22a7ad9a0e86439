using Shaper.Rules;

namespace Shaper.Engine;

/// <summary>
/// A key an observe rule puts into its kernel drop or reject set, or keeps there longer: the rule, its action
/// (<see cref="RuleAction.Drop"/> or <see cref="RuleAction.Reject"/>), the key, until when the set must hold it
/// (the limiter's retry-after from the deciding packet) and when that packet was seen, both on the packets' clock.
/// </summary>
public readonly record struct KeyHold(string Rule, RuleAction Action, HeldKey Key, long UntilNs, long DetectedNs);
