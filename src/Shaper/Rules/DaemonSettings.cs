namespace Shaper.Rules;

/// <summary>The <c>[daemon]</c> table, with DESIGN.md's defaults.</summary>
public sealed record DaemonSettings
{
    /// <summary>Live capture interface for observe rules; empty means no capture.</summary>
    public string Interface { get; init; } = "";

    /// <summary>Which firewall front end enforces kernel rules.</summary>
    public BackendKind Backend { get; init; } = BackendKind.Auto;

    /// <summary>The control socket path.</summary>
    public string Socket { get; init; } = "/run/shaper/shaperd.sock";

    /// <summary>The Prometheus text endpoint, <c>host:port</c>; empty means off.</summary>
    public string Metrics { get; init; } = "127.0.0.1:9477";

    /// <summary>Where blocks persist across restarts.</summary>
    public string StateDir { get; init; } = "/var/lib/shaper";

    /// <summary>True: limits and blocks stay in the kernel while the daemon is stopped.</summary>
    public bool KeepOnStop { get; init; }

    /// <summary>
    /// Keys each in-process rule tracks per address family; the limiter tables start small, double as keys arrive
    /// up to this size and evict beyond it, so the daemon's memory grows with the sources only up to this bound.
    /// </summary>
    public int MaxKeys { get; init; } = 262_144;

    /// <summary>
    /// Blocks kept at once (operator's and observe rules' together); more are refused. At most, and by default,
    /// the size of a kernel block set, so every acknowledged block fits in the kernel.
    /// </summary>
    public int MaxBlocks { get; init; } = Firewall.NftBlockSets.Size;

    /// <summary>
    /// Packets the queue rules may hold at once, over all their keys; an arrival its queue would hold beyond this is
    /// dropped. Kernels before the hashed verdict lookup (Linux 6.18) walk every held packet of a queue for each
    /// verdict, so thousands, not millions.
    /// </summary>
    public int MaxHeld { get; init; } = 4096;

    /// <summary>
    /// The NFQUEUE number of the first queue rule; each queue rule takes <see cref="Queues"/> numbers, the next rule
    /// the next ones.
    /// </summary>
    public int QueueNum { get; init; } = 1000;

    /// <summary>The most queues (and threads) <c>queues</c> may give each queue rule.</summary>
    public const int MaxQueues = 16;

    /// <summary>
    /// NFQUEUE queues per queue rule, each served by its own thread with its own key table; the kernel shares a rule's
    /// packets among them by a hash of the key's address (the source, or its prefix, or the destination for per = "dst"),
    /// so each key stays on one queue. A rule with per = "rule" (one key) has one queue whatever this says. Default 1.
    /// </summary>
    public int Queues { get; init; } = 1;

    /// <summary>The most capture threads <c>capture_threads</c> may ask for.</summary>
    public const int MaxCaptureThreads = 64;

    /// <summary>
    /// Capture threads (each reads its share of the packets and decides them with its own key tables); 0, the
    /// default, means <see cref="AutoCaptureThreads"/>. Takes effect at start.
    /// </summary>
    public int CaptureThreads { get; init; }

    /// <summary>The default number of capture threads: half the cores this process may use, 1 to 4.</summary>
    public static int AutoCaptureThreads => Math.Clamp(Environment.ProcessorCount / 2, 1, 4);

    /// <summary>The capture threads to run: <see cref="CaptureThreads"/>, or the default when it is 0.</summary>
    public int EffectiveCaptureThreads => CaptureThreads > 0 ? CaptureThreads : AutoCaptureThreads;
}
