using Shaper.Capture;
using Shaper.Engine;
using Shaper.Rules;

namespace Shaper.Plan;

/// <summary>
/// A validated configuration compiled for the running daemon: each rule assigned to exactly one enforcer (the
/// kernel backend's meters, the in-process engine over captured packets, or the NFQUEUE queue), with what each needs. The kernel
/// scripts, the capture filter, the engine, counters, status and the start-up log read it; none of them filters
/// <c>enforce</c> itself. Immutable: a reload compiles a new plan and swaps it in whole.
/// </summary>
public sealed class EnforcementPlan
{
    private EnforcementPlan(ShaperConfig config, BackendKind backend, PlannedRule[] rules)
    {
        Config = config;
        Backend = backend;
        Rules = rules;
        KernelRules = [.. rules.Where(r => r.Enforcer == Enforcer.Kernel).Select(r => r.Rule)];
        ObservedRules = [.. rules.Where(r => r.Enforcer == Enforcer.Observe).Select(r => r.Rule)];
        QueueRules = [.. rules.Where(r => r.Enforcer == Enforcer.Queue).Select((r, i) => new QueueRule(r.Rule, config.Daemon.QueueNum + (i * config.Daemon.Queues), r.Rule.Per.Kind == KeyKind.Rule ? 1 : config.Daemon.Queues))];
        Global = GlobalCap.Of(config, [.. KernelRules, .. ObservedRules, .. QueueRules.Select(q => q.Rule)]);
        CaptureInterface = CaptureScope(config.Daemon.Interface, ObservedRules);
        var daemonInterface = config.Daemon.Interface;
        Observed = CompiledRuleSet.Compile(
            config with { Rules = ObservedRules },
            Global,
            CaptureInterface == CaptureSocket.AnyInterface && daemonInterface != CaptureSocket.AnyInterface ? daemonInterface : null);
        CaptureFilter = BpfFilter.Build(ObservedRules);
    }

    /// <summary>The configuration the plan was compiled from.</summary>
    public ShaperConfig Config { get; }

    /// <summary>The kernel backend the plan was checked against: nftables, iptables or none.</summary>
    public BackendKind Backend { get; }

    /// <summary>Every rule, in file order, with its enforcer.</summary>
    public IReadOnlyList<PlannedRule> Rules { get; }

    /// <summary>The rules the kernel backend enforces, in file order.</summary>
    public IReadOnlyList<Rule> KernelRules { get; }

    /// <summary>The rules the engine runs over captured packets, in file order.</summary>
    public IReadOnlyList<Rule> ObservedRules { get; }

    /// <summary>The queue rules, in file order, each with its NFQUEUE number.</summary>
    public IReadOnlyList<QueueRule> QueueRules { get; }

    /// <summary>
    /// The <c>[global]</c> cap, null when there is none or no rule: the kernel holds it for its own rules and the
    /// observed ones (whose packets only the kernel can stop), and the engine runs it over the observed rules.
    /// </summary>
    public GlobalCap? Global { get; }

    /// <summary>The engine's rule set: the observed rules compiled for the packet path, under <see cref="Global"/>.</summary>
    public CompiledRuleSet Observed { get; }

    /// <summary>The capture's libpcap filter; empty when no rule is observed (then nothing is captured).</summary>
    public string CaptureFilter { get; }

    /// <summary>
    /// Where the capture runs: the <c>[daemon] interface</c> when every observed rule's <c>match.iface</c> is it or
    /// absent; <c>any</c> when some rule names another interface (or a prefix), so the capture sees what the rules
    /// need, and then each rule without <c>match.iface</c> is held to the <c>[daemon] interface</c> as before; empty
    /// when the <c>[daemon] interface</c> is empty (no capture).
    /// </summary>
    public string CaptureInterface { get; }

    /// <summary>True when the capture runs: an interface is set and some rule is observed.</summary>
    public bool Captures => CaptureInterface.Length > 0 && CaptureFilter.Length > 0;

    /// <summary>The planned rule named <paramref name="name"/>, or null.</summary>
    public PlannedRule? Find(string name)
    {
        foreach (var rule in Rules)
        {
            if (rule.Rule.Name == name)
            {
                return rule;
            }
        }

        return null;
    }

    /// <summary>
    /// Compiles <paramref name="config"/> for the kernel backend <paramref name="backend"/> (nftables, iptables or
    /// none; auto counts as nftables, what the daemon picks wherever nftables works).
    /// </summary>
    /// <exception cref="InvalidOperationException">A rule has no enforcer: the configuration was not validated for this backend.</exception>
    public static EnforcementPlan Compile(ShaperConfig config, BackendKind backend)
    {
        ArgumentNullException.ThrowIfNull(config);
        backend = backend == BackendKind.Auto ? BackendKind.Nftables : backend;
        var rules = new PlannedRule[config.Rules.Count];
        var problems = new List<string>();
        for (var i = 0; i < rules.Length; i++)
        {
            var rule = config.Rules[i];
            var enforcer = EnforcerChoice.Assign(rule, $"[[rule]] '{rule.Name}'", config.Daemon, backend, out var refusal);
            if (enforcer is { } assigned)
            {
                rules[i] = new PlannedRule(rule, i, assigned);
            }
            else
            {
                problems.Add($"{refusal!.Message}; {refusal.Hint}");
            }
        }

        if (rules.Length > 0 && config.Global is { } global && EnforcerChoice.GlobalRefusal(global, backend) is { } globalRefusal)
        {
            problems.Add($"{globalRefusal.Message}; {globalRefusal.Hint}");
        }

        // Each queue rule takes [daemon] queues numbers from queue_num on; an NFQUEUE number is 16 bits.
        var queueRules = rules.Count(r => r is not null && r.Enforcer == Enforcer.Queue);
        var lastQueue = config.Daemon.QueueNum + ((long)queueRules * config.Daemon.Queues) - 1;
        if (lastQueue > ushort.MaxValue)
        {
            problems.Add($"[daemon] queue_num = {config.Daemon.QueueNum} with {queueRules} queue rules of {config.Daemon.Queues} queues each needs NFQUEUE numbers up to {lastQueue}, beyond 65535; lower queue_num or queues");
        }

        if (problems.Count > 0)
        {
            throw new InvalidOperationException(string.Join("; ", problems));
        }

        return new EnforcementPlan(config, backend, rules);
    }

    /// <summary>The capture's interface for <paramref name="daemonInterface"/> and the observed rules (see <see cref="CaptureInterface"/>).</summary>
    private static string CaptureScope(string daemonInterface, IReadOnlyList<Rule> observed)
    {
        if (daemonInterface.Length == 0 || daemonInterface == CaptureSocket.AnyInterface)
        {
            return daemonInterface;
        }

        foreach (var rule in observed)
        {
            if (rule.Match.Iface is { } iface && iface != daemonInterface)
            {
                return CaptureSocket.AnyInterface;
            }
        }

        return daemonInterface;
    }

    /// <summary>Compiles <paramref name="config"/> for the backend it names.</summary>
    public static EnforcementPlan Compile(ShaperConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        return Compile(config, config.Daemon.Backend);
    }
}
