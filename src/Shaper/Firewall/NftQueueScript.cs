using System.Globalization;
using System.Text;
using Shaper.Plan;
using Shaper.Rules;

namespace Shaper.Firewall;

/// <summary>
/// The nft transaction that sends the queue rules' packets to NFQUEUE with nft's own <c>queue</c> statement, for kernels
/// that have it (<c>CONFIG_NFT_QUEUE</c>; <see cref="FeatureProbe.NftQueue"/> finds out): a base chain <see cref="Chain"/>
/// in the shaper's table, hooked on input after the kernel rules' chains, with the same rules as
/// <see cref="IptablesQueueScript"/>'s chain: a rejecting rule's marked packets rejected first, allowed sources
/// returned, then one <c>queue … bypass</c> per rule and family. A rule with several queues (<c>[daemon] queues</c>) picks
/// one by <c>jhash</c> of the key's address alone (masked to the rule's prefix), so each key stays on one queue.
/// </summary>
public static class NftQueueScript
{
    /// <summary>The queue rules' chain in table <c>inet shaper</c>.</summary>
    public const string Chain = "queue_in"; // not "queue", which nft reads as the statement

    /// <summary>
    /// The hook priority: after the kernel rules' chains (-10), so a packet a kernel rule drops never reaches a queue.
    /// An accepted packet goes on to the next hook.
    /// </summary>
    public const int Priority = 0;

    /// <summary>The transaction that makes the chain send <paramref name="plan"/>'s queue rules to their queues; with none, the one that deletes it (<paramref name="present"/>: it exists now), or empty.</summary>
    public static string Apply(EnforcementPlan plan, bool present)
    {
        ArgumentNullException.ThrowIfNull(plan);
        if (plan.QueueRules.Count == 0)
        {
            return present ? Remove() : "";
        }

        const string table = NftScript.Table;
        var script = new StringBuilder();
        script.Append(CultureInfo.InvariantCulture, $"add chain {table} {Chain} {{ type filter hook input priority {Priority}; policy accept; }}\n");
        script.Append(CultureInfo.InvariantCulture, $"flush chain {table} {Chain}\n");
        if (plan.QueueRules.Any(q => q.Rule.Action == RuleAction.Reject && q.Rule.Mode == RuleMode.Hard))
        {
            // NF_REPEAT runs this chain again, marked: refused by a full FIFO of a rejecting rule.
            var mark = string.Create(CultureInfo.InvariantCulture, $"meta mark 0x{IptablesQueueScript.RejectMark:x8}");
            script.Append(CultureInfo.InvariantCulture, $"add rule {table} {Chain} {mark} meta l4proto tcp reject with tcp reset\n");
            script.Append(CultureInfo.InvariantCulture, $"add rule {table} {Chain} {mark} reject with icmpx type port-unreachable\n");
        }

        foreach (var v4 in new[] { true, false })
        {
            var allowed = plan.Config.Allow.Where(n => NftScript.IsV4(n) == v4).Select(NftScript.Format).ToList();
            if (allowed.Count > 0)
            {
                script.Append(CultureInfo.InvariantCulture, $"add rule {table} {Chain} {(v4 ? "ip" : "ip6")} saddr {{ {string.Join(", ", allowed)} }} return\n");
            }
        }

        foreach (var queue in plan.QueueRules)
        {
            foreach (var v4 in NftScript.Families(queue.Rule))
            {
                var target = queue.Queues == 1
                    ? string.Create(CultureInfo.InvariantCulture, $"queue num {queue.Number} bypass")
                    : string.Create(CultureInfo.InvariantCulture, $"queue flags bypass to jhash {KeyAddress(queue.Rule.Per, v4)} mod {queue.Queues} seed 0x5348 offset {queue.Number}");
                script.Append(CultureInfo.InvariantCulture, $"add rule {table} {Chain} {NftScript.Match(queue.Rule, v4)} {target} comment \"shaper:{queue.Rule.Name}:queue\"\n");
            }
        }

        return script.ToString();
    }

    /// <summary>The transaction that deletes the chain (and its rules).</summary>
    public static string Remove() => $"delete chain {NftScript.Table} {Chain}\n";

    /// <summary>The key's address alone (the source's, or the destination's for per = "dst"), masked to the rule's prefix.</summary>
    private static string KeyAddress(KeyScope per, bool v4)
    {
        var direction = per.Kind == KeyKind.Destination ? "daddr" : "saddr";
        var prefix = v4 ? per.V4Prefix : per.V6Prefix; // per = "dst" keys whole addresses: 32 and 128
        var address = $"{(v4 ? "ip" : "ip6")} {direction}";
        return prefix < (v4 ? 32 : 128) ? $"{address} and {NftScript.Mask(v4, prefix)}" : address;
    }
}
