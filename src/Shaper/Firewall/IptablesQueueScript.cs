using System.Globalization;
using System.Text;
using Shaper.Plan;

namespace Shaper.Firewall;

/// <summary>
/// The <c>iptables-restore --noflush</c> scripts that send the queue rules' packets to NFQUEUE, one per family: the
/// chain <see cref="Chain"/> (allowed sources return first, then one <c>-j NFQUEUE --queue-num N --queue-bypass</c> per
/// rule and match) and the jump to it from INPUT. This is the iptables NFQUEUE target through xt compat, which
/// kernels without nft's queue statement (no <c>CONFIG_NFT_QUEUE</c>) still have. <c>--queue-bypass</c> lets packets
/// through while no daemon has the queue bound, so a stopped or crashed daemon never blackholes the traffic.
/// An accepted packet resumes at the next hook after INPUT's filter table (netfilter's NF_ACCEPT), so the jump sits
/// after the iptables backend's own jump: the kernel rules see a packet before its queue does. (nftables' table runs at
/// priority -10, before the filter table, so with that backend the order holds by itself.)
/// </summary>
public static class IptablesQueueScript
{
    /// <summary>The queue rules' chain in table filter.</summary>
    public const string Chain = "SHAPER-QUEUE";

    /// <summary>
    /// The mark a queue rule with <c>action = "reject"</c> gives a packet its full FIFO refuses, with the verdict
    /// NF_REPEAT: the packet goes through the filter table again, and the chain's first rules reject what carries
    /// it. (NFQUEUE's verdicts can only accept or drop.) "SH" and 1, unlikely to be an operator's own mark.
    /// </summary>
    public const uint RejectMark = 0x5348_0001;

    /// <summary>
    /// The first of the marks that share a rule's packets among its queues (<c>[daemon] queues</c> &gt; 1): HMARK sets
    /// a packet's mark to this plus the number of the queue its key hashes to, and one NFQUEUE line per queue takes
    /// the packets with its mark. "SI", above <see cref="RejectMark"/>'s range.
    /// </summary>
    public const uint ShardMarkBase = 0x5349_0000;

    /// <summary>HMARK's hash seed: fixed, so a key keeps its queue across restarts.</summary>
    private const string ShardSeed = "0x5348";

    /// <summary>The jump from INPUT, as <c>iptables-save</c> prints it.</summary>
    public const string JumpRule = "-A INPUT -j " + Chain;

    /// <summary>
    /// The transaction that makes one family's queue chain send <paramref name="plan"/>'s queue rules to their queues.
    /// <paramref name="save"/> is the family's <c>iptables-save</c> listing now: the jump is added only when missing,
    /// right after the backend's jump when there is one. Empty when there are no queue rules and no chain to empty.
    /// </summary>
    public static string Apply(EnforcementPlan plan, bool v4, string save)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(save);
        var (present, jumps, backendJump) = Find(save);
        if (plan.QueueRules.Count == 0)
        {
            return present ? Remove(save) : "";
        }

        var script = new StringBuilder("*filter\n");
        script.Append(':').Append(Chain).Append(" - [0:0]\n"); // creates it, or flushes it when it exists
        if (plan.QueueRules.Any(q => q.Rule.Action == Rules.RuleAction.Reject && q.Rule.Mode == Rules.RuleMode.Hard && NftScript.Families(q.Rule).Contains(v4)))
        {
            // Back from the queue marked: refused by a full FIFO of a rejecting rule.
            var mark = string.Create(CultureInfo.InvariantCulture, $"-m mark --mark 0x{RejectMark:x}");
            script.Append("-A ").Append(Chain).Append(" -p tcp ").Append(mark).Append(" -j REJECT --reject-with tcp-reset\n");
            script.Append("-A ").Append(Chain).Append(' ').Append(mark).Append(" -j REJECT --reject-with ").Append(v4 ? "icmp-port-unreachable" : "icmp6-port-unreachable").Append('\n');
        }

        foreach (var allowed in plan.Config.Allow.Where(n => NftScript.IsV4(n) == v4))
        {
            script.Append("-A ").Append(Chain).Append(" -s ").Append(NftScript.Format(allowed)).Append(" -j RETURN\n");
        }

        foreach (var queue in plan.QueueRules)
        {
            if (!NftScript.Families(queue.Rule).Contains(v4))
            {
                continue;
            }

            var comment = $"-m comment --comment \"shaper:{queue.Rule.Name}:queue\"";
            foreach (var match in IptablesScript.Matches(queue.Rule, v4))
            {
                if (queue.Queues == 1)
                {
                    script.Append(CultureInfo.InvariantCulture, $"-A {Chain} {match}{comment} -j NFQUEUE --queue-num {queue.Number} --queue-bypass\n");
                    continue;
                }

                // --queue-balance would hash both addresses and the protocol (the kernel's nfqueue_hash), so one source
                // could reach two queues (two of the host's addresses, TCP and UDP); HMARK hashes only the key's own
                // address, masked to the rule's prefix, and each queue's line takes its mark. The mark replaces the
                // packet's own. (HMARK reads an ICMP error's inner header, so such a packet may reach another queue.)
                script.Append(CultureInfo.InvariantCulture, $"-A {Chain} {match}{comment} -j HMARK {ShardHash(queue.Rule.Per, v4)} --hmark-rnd {ShardSeed} --hmark-mod {queue.Queues} --hmark-offset {ShardMarkBase + (uint)queue.Number}\n");
                for (var shard = 0; shard < queue.Queues; shard++)
                {
                    script.Append(CultureInfo.InvariantCulture, $"-A {Chain} {match}-m mark --mark 0x{ShardMarkBase + (uint)queue.Number + (uint)shard:x} {comment} -j NFQUEUE --queue-num {queue.Number + shard} --queue-bypass\n");
                }
            }
        }

        if (jumps == 0)
        {
            script.Append(CultureInfo.InvariantCulture, $"-I INPUT {backendJump + 1} -j {Chain}\n");
        }

        return script.Append("COMMIT\n").ToString();
    }

    /// <summary>The HMARK options that hash a key's address alone: the source's (or the destination's, for per = "dst") masked to the rule's prefix.</summary>
    private static string ShardHash(Rules.KeyScope per, bool v4)
    {
        var prefix = v4 ? per.V4Prefix : per.V6Prefix; // per = "dst" keys whole addresses: 32 and 128
        return string.Create(CultureInfo.InvariantCulture, $"--hmark-{(per.Kind == Rules.KeyKind.Destination ? "dst" : "src")}-prefix {prefix}");
    }

    /// <summary>The transaction that takes out the queue chain and its jumps, as <paramref name="save"/> shows them; empty when none is there.</summary>
    public static string Remove(string save)
    {
        ArgumentNullException.ThrowIfNull(save);
        var (present, jumps, _) = Find(save);
        if (!present && jumps == 0)
        {
            return "";
        }

        var script = new StringBuilder("*filter\n");
        for (var i = 0; i < jumps; i++)
        {
            script.Append("-D INPUT -j ").Append(Chain).Append('\n');
        }

        if (present)
        {
            script.Append("-F ").Append(Chain).Append('\n').Append("-X ").Append(Chain).Append('\n');
        }

        return script.Append("COMMIT\n").ToString();
    }

    /// <summary>Whether the chain exists, how many jumps to it INPUT has, and the position (from 1) of the backend's jump in INPUT, 0 when none.</summary>
    private static (bool Present, int Jumps, int BackendJump) Find(string save)
    {
        var present = false;
        var jumps = 0;
        var backendJump = 0;
        var position = 0;
        foreach (var raw in save.Split('\n'))
        {
            var line = raw.Trim();
            if (line.StartsWith($":{Chain} ", StringComparison.Ordinal))
            {
                present = true;
            }
            else if (line.StartsWith("-A INPUT ", StringComparison.Ordinal))
            {
                position++;
                if (line == JumpRule)
                {
                    jumps++;
                }
                else if (line == IptablesScript.JumpRule && backendJump == 0)
                {
                    backendJump = position;
                }
            }
        }

        return (present, jumps, backendJump);
    }
}
