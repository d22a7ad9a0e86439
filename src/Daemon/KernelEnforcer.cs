using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Shaper.Engine;
using Shaper.Packets;
using Shaper.Rules;

namespace Shaper.Daemon;

/// <summary>
/// The daemon's side of kernel enforcement: owns the block list (the daemon's own state, with absolute
/// expiry times) and drives the firewall backend chosen by <c>[daemon].backend</c>.
/// </summary>
internal sealed class KernelEnforcer
{
    private readonly ILogger<KernelEnforcer> _logger;
    private readonly TimeProvider _time;
    private readonly Lock _blocksLock = new(); // control commands and the engine thread both add blocks
    private readonly Dictionary<IPNetwork, DateTimeOffset> _blocks = [];

    public KernelEnforcer(ILogger<KernelEnforcer> logger, TimeProvider time)
    {
        _logger = logger;
        _time = time;
    }

    public string BackendName { get; private set; } = "none";

    public string State { get; private set; } = "not started";

    public bool Healthy { get; private set; } = true;

    public int BlockCount
    {
        get
        {
            lock (_blocksLock)
            {
                Expire();
                return _blocks.Count;
            }
        }
    }

    public Task StartAsync(ShaperConfig config, CancellationToken cancel)
    {
        State = "running";
        return Task.CompletedTask;
    }

    /// <summary>Applies <paramref name="config"/>; null on success, else why the old ruleset stays.</summary>
    public Task<string?> ReloadAsync(ShaperConfig config, CancellationToken cancel) => Task.FromResult<string?>(null);

    public Task StopAsync(ShaperConfig config, CancellationToken cancel)
    {
        State = "stopped";
        return Task.CompletedTask;
    }

    public void Block(IpFamily family, UInt128 address, TimeSpan ttl, string source)
    {
        var ip = family == IpFamily.V4 ? new IPAddress(BitConverter.GetBytes(System.Buffers.Binary.BinaryPrimitives.ReverseEndianness((uint)address))) : new IPAddress(ToBytes(address));
        Block(new IPNetwork(ip, family == IpFamily.V4 ? 32 : 128), ttl, source);
    }

    public void Block(IPNetwork network, TimeSpan ttl, string source)
    {
        lock (_blocksLock)
        {
            _blocks[network] = _time.GetUtcNow() + ttl;
        }
    }

    public bool Unblock(IPNetwork network)
    {
        lock (_blocksLock)
        {
            return _blocks.Remove(network);
        }
    }

    public IReadOnlyList<string> ListBlocks()
    {
        lock (_blocksLock)
        {
            Expire();
            var now = _time.GetUtcNow();
            return [.. _blocks.OrderBy(b => b.Value).Select(b => $"{b.Key} expires in {Math.Ceiling((b.Value - now).TotalSeconds)}s")];
        }
    }

    public IEnumerable<(string Rule, long Passed, long Dropped)> RuleCounters() => [];

    public IEnumerable<(string Set, long Elements, long Size)> SetFill() => [];

    private void Expire()
    {
        var now = _time.GetUtcNow();
        foreach (var (network, until) in _blocks.ToList())
        {
            if (until <= now)
            {
                _blocks.Remove(network);
            }
        }
    }

    private static byte[] ToBytes(UInt128 address)
    {
        var bytes = new byte[16];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt128BigEndian(bytes, address);
        return bytes;
    }
}
