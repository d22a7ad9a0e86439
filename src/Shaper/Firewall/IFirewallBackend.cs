using System.Net;
using Shaper.Rules;

namespace Shaper.Firewall;

/// <summary>
/// A firewall front end that enforces kernel rules (<see cref="NftBackend"/>, <see cref="IptablesBackend"/>).
/// The contract both keep: an apply is checked first and a failing one leaves the previous rules enforced and
/// says why; the shaper's objects are its own, and <see cref="Remove"/> takes out those and nothing else.
/// </summary>
public interface IFirewallBackend
{
    /// <summary>The plan last applied, for re-installing after a flush.</summary>
    Plan.EnforcementPlan? Applied { get; }

    /// <summary>Takes over what an earlier run left in the kernel (<c>keep_on_stop</c>, a crash). True when there was something.</summary>
    bool Adopt();

    /// <summary>Checks and applies <paramref name="plan"/>'s kernel rules; null on success, else why (the old rules stay).</summary>
    string? Apply(Plan.EnforcementPlan plan);

    /// <summary>
    /// <see cref="Apply"/> for a reload or <c>rules apply</c>: a backend may skip the kernel when the rules it would
    /// write are those it last wrote (a transaction there holds up the drop sets' holds and the blocks behind it).
    /// </summary>
    string? Reload(Plan.EnforcementPlan plan) => Apply(plan);

    /// <summary>True when the shaper's rules are in the kernel (someone may have flushed them).</summary>
    bool IsInstalled();

    /// <summary>After a flush: installs <see cref="Applied"/> anew; null on success.</summary>
    string? Reinstall();

    /// <summary>Adds blocks in one transaction; null on success.</summary>
    string? AddBlocks(IEnumerable<(IPNetwork Network, TimeSpan Ttl)> blocks);

    /// <summary>Readies the block path before the first real block, changing nothing in the kernel.</summary>
    void WarmUp();

    /// <summary>Removes one block; null on success (also when it had already expired).</summary>
    string? RemoveBlock(IPNetwork network);

    /// <summary>Takes out blocks whose time to live has run out, where the kernel does not do it itself; null on success.</summary>
    string? ExpireBlocks();

    /// <summary>Per kernel rule: packets it matched and let through, and packets it limited.</summary>
    List<(string Rule, long Passed, long Limited)> RuleCounters();

    /// <summary>Removes everything the shaper put in the kernel, and nothing else.</summary>
    void Remove();
}
