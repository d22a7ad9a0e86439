using Microsoft.Extensions.Logging;

namespace Shaper.Daemon;

/// <summary>The fleet sync's events.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 90, Level = LogLevel.Information, Message = "fleet: host {Host}, {Rules} fleet rules, store {Redis}, sync every {SyncMs} ms, {Hosts} hosts (share while the store is away: limit / {Hosts})")]
    public static partial void FleetStarted(ILogger logger, string host, int rules, string redis, double syncMs, int hosts);

    [LoggerMessage(EventId = 91, Level = LogLevel.Information, Message = "fleet: limits shared through the store again ({Reason})")]
    public static partial void FleetShared(ILogger logger, string reason);

    [LoggerMessage(EventId = 92, Level = LogLevel.Warning, Message = "fleet: store unreachable, each host enforces its share (limit / {Hosts}) and keeps its hits for the store: {Reason}")]
    public static partial void FleetShareOnly(ILogger logger, int hosts, string reason);

    [LoggerMessage(EventId = 93, Level = LogLevel.Warning, Message = "fleet: circuit breaker {From} -> {To} (failure rate {FailureRate:F0}%, slow-call rate {SlowRate:F0}% over {Calls} calls)")]
    public static partial void BreakerMoved(ILogger logger, string from, string to, double failureRate, double slowRate, int calls);

    [LoggerMessage(EventId = 94, Level = LogLevel.Error, Message = "fleet: sync round failed outside the store call: {Reason}")]
    public static partial void FleetRoundFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 95, Level = LogLevel.Information, Message = "fleet: block of {Network} for {Seconds:F0} s from the fleet: {Outcome}")]
    public static partial void FleetBlock(ILogger logger, string network, double seconds, string outcome);

    [LoggerMessage(EventId = 96, Level = LogLevel.Warning, Message = "fleet: hosts = 1: while the store is away this host enforces the whole limit, and a fleet of N hosts admits up to N times it; set [fleet] hosts to the fleet's size")]
    public static partial void FleetOneHost(ILogger logger);

    [LoggerMessage(EventId = 97, Level = LogLevel.Information, Message = "fleet: block of {Network} deleted in the fleet: {Outcome}")]
    public static partial void FleetBlockDeleted(ILogger logger, string network, string outcome);

    [LoggerMessage(EventId = 98, Level = LogLevel.Information, Message = "fleet: block of {Network} deleted here; deleting it from the fleet with the next sync")]
    public static partial void FleetBlockDeleting(ILogger logger, string network);
}
