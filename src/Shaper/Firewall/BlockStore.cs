using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Shaper.Firewall;

/// <summary>
/// The daemon's own record of its blocks, with absolute expiry times, persisted in <c>state_dir/blocks.json</c>
/// (written to a temporary file and renamed, so a crash never leaves half a file). The kernel's block sets
/// are rebuilt from it after a restart or a flush of the ruleset. Thread-safe: blocks come from the engine
/// thread and the control socket.
/// </summary>
public sealed class BlockStore : IBlockStore
{
    private readonly Lock _lock = new(); // engine thread, control socket and the watcher all touch the blocks
    private readonly Dictionary<IPNetwork, DateTimeOffset> _blocks = [];
    private readonly string? _path;
    private readonly TimeProvider _time;
    private bool _dirty;

    /// <summary>A store persisted under <paramref name="stateDir"/> (null: memory only).</summary>
    public BlockStore(string? stateDir, TimeProvider time)
    {
        _time = time;
        _path = stateDir is null ? null : Path.Combine(stateDir, "blocks.json");

        // Compile the insert now: the first block after start would otherwise pay for it while offenders wait.
        _blocks[default] = default;
        _blocks.Remove(default);
    }

    /// <summary>Blocks in force now.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                Expire();
                return _blocks.Count;
            }
        }
    }

    /// <summary>Records a block of <paramref name="network"/> for <paramref name="ttl"/> from now.</summary>
    public void Add(IPNetwork network, TimeSpan ttl) => Add(network, _time.GetUtcNow() + ttl);

    /// <inheritdoc />
    public void Add(IPNetwork network, DateTimeOffset expires)
    {
        lock (_lock)
        {
            _blocks[network] = expires;
            _dirty = true;
        }
    }

    /// <summary>Forgets a block; false when there was none.</summary>
    public bool Remove(IPNetwork network)
    {
        lock (_lock)
        {
            var removed = _blocks.Remove(network);
            _dirty |= removed;
            return removed;
        }
    }

    /// <summary>The blocks in force with the time each has left, soonest to end first.</summary>
    public List<(IPNetwork Network, TimeSpan Left)> Active()
    {
        lock (_lock)
        {
            Expire();
            var now = _time.GetUtcNow();
            return [.. _blocks.OrderBy(b => b.Value).Select(b => (b.Key, b.Value - now))];
        }
    }

    /// <summary>Reads the persisted blocks, dropping those that ended while the daemon was away; a damaged file counts as empty.</summary>
    public void Load()
    {
        if (_path is null || !File.Exists(_path))
        {
            return;
        }

        lock (_lock)
        {
            try
            {
                foreach (var node in JsonNode.Parse(File.ReadAllText(_path))?["blocks"]?.AsArray() ?? [])
                {
                    if (IPNetwork.TryParse(node?["cidr"]?.GetValue<string>(), out var network)
                        && node?["expires_unix_ms"]?.GetValue<long>() is { } expires)
                    {
                        _blocks[network] = DateTimeOffset.FromUnixTimeMilliseconds(expires);
                    }
                }
            }
            catch (Exception e) when (e is JsonException or InvalidOperationException or IOException or FormatException)
            {
                // A damaged state file must not stop the daemon; the blocks in it are lost.
            }

            Expire();
        }
    }

    /// <summary>Writes the blocks if they changed since the last save.</summary>
    public void SaveIfChanged()
    {
        if (_path is null)
        {
            return;
        }

        JsonObject json;
        lock (_lock)
        {
            if (!_dirty)
            {
                return;
            }

            Expire();
            json = new JsonObject
            {
                ["version"] = 1,
                ["blocks"] = new JsonArray([.. _blocks.Select(b => (JsonNode)new JsonObject
                {
                    ["cidr"] = b.Key.ToString(),
                    ["expires_unix_ms"] = b.Value.ToUnixTimeMilliseconds(),
                })]),
            };
            _dirty = false;
        }

        Directory.CreateDirectory(Path.GetDirectoryName(_path)!);
        var temp = _path + "." + Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + ".tmp";
        File.WriteAllText(temp, json.ToJsonString());
        File.Move(temp, _path, overwrite: true);
    }

    private void Expire()
    {
        var now = _time.GetUtcNow();
        foreach (var (network, until) in _blocks.Where(b => b.Value <= now).ToList())
        {
            _blocks.Remove(network);
            _dirty = true;
        }
    }
}
