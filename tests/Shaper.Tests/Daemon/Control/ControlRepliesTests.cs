using System.Text.Json;
using System.Text.Json.Nodes;
using Shaper.Daemon.Control;

namespace Shaper.Tests.Daemon.Control;

/// <summary>The control replies' JSON shape is a contract (<c>shaperctl --json</c>, scripts): names and order, fixed by the reply types.</summary>
public sealed class ControlRepliesTests
{
    [Fact]
    public void StatusReply_Serialised_HasTheContractFieldsInOrder()
    {
        var reply = new StatusReply
        {
            Version = "0.1.0",
            Config = "/etc/shaper/shaper.toml",
            Rules = 2,
            Backend = "nftables",
            Kernel = "running",
            Capture = "eth0",
            CaptureFilter = "tcp",
            Captured = 1,
            CaptureDropped = 2,
            HandoffDropped = 3,
            EnginePackets = 4,
            Blocks = 5,
            KernelReinstalls = 6,
            NetlinkFallbacks = 7,
            NetlinkLastError = null,
            DetectToBlockCount = 8,
            DetectToBlockP50Ms = 0.5,
            DetectToBlockP99Ms = -1,
            ReloadsOk = 9,
            ReloadsFailed = 10,
            LastApplyMs = 1.25,
            UptimeS = 11,
            KernelRules = 1,
            ObserveRules = 1,
        };

        var json = JsonSerializer.SerializeToNode(reply, ControlJsonContext.Default.StatusReply)!.AsObject();

        // The fields shaperctl and scripts read, in the order the daemon has always written them; new fields go at the end.
        string[] contract =
        [
            "version", "config", "rules", "backend", "kernel", "capture", "capture_filter", "captured", "capture_dropped",
            "handoff_dropped", "engine_packets", "blocks", "kernel_reinstalls", "netlink_fallbacks", "netlink_last_error",
            "detect_to_block_count", "detect_to_block_p50_ms", "detect_to_block_p99_ms", "reloads_ok", "reloads_failed",
            "last_apply_ms", "uptime_s",
        ];
        Assert.Equal(contract, json.Select(p => p.Key).Take(contract.Length));
        Assert.Null(json["netlink_last_error"]);
        Assert.Equal(2, json["rules"]!.GetValue<int>());
        Assert.Equal(1.25, json["last_apply_ms"]!.GetValue<double>());
        Assert.Equal(1, json["kernel_rules"]!.GetValue<int>());
        Assert.Equal(1, json["observe_rules"]!.GetValue<int>());
    }

    [Fact]
    public void StatusReply_KernelRepairs_SerialisedAsAnObjectByKind()
    {
        var reply = new StatusReply
        {
            Version = "0.1.0", Config = "c", Rules = 0, Backend = "nftables", Kernel = "running", Capture = "off", CaptureFilter = "",
            Captured = 0, CaptureDropped = 0, HandoffDropped = 0, EnginePackets = 0, Blocks = 0, KernelReinstalls = 1,
            NetlinkFallbacks = 0, NetlinkLastError = null, DetectToBlockCount = 0, DetectToBlockP50Ms = -1, DetectToBlockP99Ms = -1,
            ReloadsOk = 0, ReloadsFailed = 0, LastApplyMs = 0, UptimeS = 0,
            BlocksRefused = 2, BlocksLastRefusal = "File exists", KernelRepairs = 3,
            KernelRepairsByKind = new Dictionary<string, long> { ["table"] = 1, ["element"] = 2 },
        };

        var json = JsonSerializer.SerializeToNode(reply, ControlJsonContext.Default.StatusReply)!.AsObject();

        Assert.Equal(3, json["kernel_repairs"]!.GetValue<long>());
        Assert.Equal(2, json["kernel_repairs_by_kind"]!["element"]!.GetValue<long>());
        Assert.Equal(2, json["blocks_refused"]!.GetValue<long>());
        Assert.Equal("File exists", json["blocks_last_refusal"]!.GetValue<string>());
    }

    [Fact]
    public void CountersReply_Serialised_HasTheContractFields()
    {
        var key = new KeyCountersReply { Key = "198.18.0.1", Passed = 1, Limited = 2, Delayed = 0, Remaining = 0, Limit = 5, RetryAfterMs = -1, State = "dropped", StateLeftMs = 600 };
        var rule = new RuleCountersReply { Name = "r", Enforce = "observe", Passed = 1, Limited = 2, Delayed = 0, KeysTracked = 1, Evictions = 0, Keys = [key], Logged = 0 };

        var json = JsonSerializer.SerializeToNode(new CountersReply([rule]), ControlJsonContext.Default.CountersReply)!;

        var written = json["rules"]![0]!.AsObject();
        Assert.Equal(["name", "enforce", "passed", "limited", "delayed", "keys_tracked", "evictions", "keys"], written.Select(p => p.Key).Take(8));
        Assert.Equal(["key", "passed", "limited", "delayed", "remaining", "limit", "retry_after_ms"], written["keys"]![0]!.AsObject().Select(p => p.Key).Take(7));
        Assert.Equal(-1, written["keys"]![0]!["retry_after_ms"]!.GetValue<double>());

        // Added with the observe actions, after the older fields: the kernel set a key is in, and the rule's log lines.
        Assert.Equal(["state", "state_left_ms"], written["keys"]![0]!.AsObject().Select(p => p.Key).Skip(7));
        Assert.Equal(["logged"], written.Select(p => p.Key).Skip(8));
    }

    [Theory]
    [InlineData("{\"blocked\":\"198.18.0.0/24\",\"for_s\":600,\"exempt\":[\"198.18.0.2/32\"]}", "block.add")] // what was blocked, for how long, what stays allowed
    [InlineData("{\"removed\":\"198.18.0.1/32\",\"fleet\":true}", "block.del")] // what was unblocked; true: deleted from the fleet too
    [InlineData("{\"blocks\":[\"198.18.0.1/32 expires in 10s\"],\"entries\":[{\"network\":\"198.18.0.1/32\",\"expires_in_s\":10,\"source\":\"fleet\",\"origin\":\"web-2\"}]}", "block.list")] // the lines, then who decided each
    [InlineData("{\"blocks\":[\"198.18.0.1/32 expires in 10s\"],\"entries\":[{\"network\":\"198.18.0.1/32\",\"expires_in_s\":10,\"source\":\"rule\",\"rule\":\"ssh-new\"}]}", "block.list.rule")] // a rule's block names the rule
    [InlineData("{\"message\":\"2 rules applied\"}", "reload")] // also rules.apply
    public void SmallReplies_Serialised_KeepTheirShape(string expected, string command)
    {
        var json = command switch
        {
            "block.add" => JsonSerializer.Serialize(new BlockAddReply("198.18.0.0/24", 600, ["198.18.0.2/32"]), ControlJsonContext.Default.BlockAddReply),
            "block.del" => JsonSerializer.Serialize(new BlockDelReply("198.18.0.1/32", true), ControlJsonContext.Default.BlockDelReply),
            "block.list" => JsonSerializer.Serialize(new BlockListReply(["198.18.0.1/32 expires in 10s"], [new BlockListEntry { Network = "198.18.0.1/32", ExpiresInS = 10, Source = "fleet", Origin = "web-2" }]), ControlJsonContext.Default.BlockListReply),
            "block.list.rule" => JsonSerializer.Serialize(new BlockListReply(["198.18.0.1/32 expires in 10s"], [new BlockListEntry { Network = "198.18.0.1/32", ExpiresInS = 10, Source = "rule", Rule = "ssh-new" }]), ControlJsonContext.Default.BlockListReply),
            _ => JsonSerializer.Serialize(new MessageReply("2 rules applied"), ControlJsonContext.Default.MessageReply),
        };

        Assert.Equal(expected, json);
    }

    [Fact]
    public void RulesListReply_Serialised_CarriesEachRuleDocumentUnchanged()
    {
        var json = JsonSerializer.Serialize(new RulesListReply([new JsonObject { ["name"] = "a", ["rate"] = "10/s" }]), ControlJsonContext.Default.RulesListReply);

        Assert.Equal("{\"rules\":[{\"name\":\"a\",\"rate\":\"10/s\"}]}", json);
    }
}
