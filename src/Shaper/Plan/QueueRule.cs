using Shaper.Rules;

namespace Shaper.Plan;

/// <summary>A rule enforced as a queue, with the NFQUEUE numbers its packets go to.</summary>
/// <param name="Rule">The validated rule.</param>
/// <param name="Number">Its first NFQUEUE number: <c>[daemon] queue_num</c> plus <c>queues</c> times its place among the queue rules.</param>
/// <param name="Queues">How many queues it has (numbers <paramref name="Number"/> on), each key on one of them: <c>[daemon] queues</c>, or 1 for per = "rule".</param>
public sealed record QueueRule(Rule Rule, int Number, int Queues = 1);
