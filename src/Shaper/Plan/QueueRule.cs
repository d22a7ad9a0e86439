using Shaper.Rules;

namespace Shaper.Plan;

/// <summary>A rule enforced as a queue, with the NFQUEUE number its packets go to (one queue per rule).</summary>
/// <param name="Rule">The validated rule.</param>
/// <param name="Number">Its NFQUEUE number: <c>[daemon] queue_num</c> plus its place among the queue rules.</param>
public sealed record QueueRule(Rule Rule, int Number);
