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

            foreach (var match in IptablesScript.Matches(queue.Rule, v4))
            {
                script.Append(CultureInfo.InvariantCulture, $"-A {Chain} {match}-m comment --comment \"shaper:{queue.Rule.Name}:queue\" -j NFQUEUE --queue-num {queue.Number} --queue-bypass\n");
            }
        }

        if (jumps == 0)
        {
            script.Append(CultureInfo.InvariantCulture, $"-I INPUT {backendJump + 1} -j {Chain}\n");
        }

        return script.Append("COMMIT\n").ToString();
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
