using System.Globalization;
using Shaper.Rules;

namespace Shaper.Fleet;

/// <summary>
/// The Lua script a host runs in the store once per key per sync, atomic per key (Redis runs a script whole). Its
/// two keys, the key's limiter state and its per-host demand, share one hash tag (<c>{rule|key}</c>), so a Redis
/// Cluster keeps both in one slot. Times are the caller's wall clock in microseconds.
/// <list type="bullet">
/// <item>A call is known by its time: when the host's entry already has it, the call is a retry of one the store ran
/// (a timeout lost its reply), and its hits are not charged again.</item>
/// <item>Demand: the host's offered rate (demand ÷ interval) is stored under its name; hosts not heard from for
/// three of their intervals are dropped; the host's share is its rate over the sum. Beside its rate each host's last
/// grant is stored: until the host's next exchange it may have spent all of it unseen, so it is reserved.</item>
/// <item><c>tb</c>, a token bucket (also the leaky meter, whose level is burst minus tokens): refill for the time
/// since the last update, minus the hits, capped at the burst. Hits are taken as spread over that time, so the hits a
/// host sends cost what they would have cost as they came; a key the store lost (a restarted Redis) starts full as
/// of the start of the time the hits cover. Hits a host admitted under its share while the store was away are
/// recorded (<c>o</c>) but not charged: the shares sum to the rate, and the bucket refilled once for every host
/// meanwhile, so charging each host's outage hits against it would charge them twice.</item>
/// <item><c>fw</c> and <c>sw</c>: fixed window and sliding window counter over the previous and current windows,
/// aligned to the window on the wall clock; a round's hits, including those of an outage, are spread over the time they cover (the part that fell
/// in the previous window counts there). Fixed: the room is the limit minus the count, and what the fleet
/// admitted over the limit in a window (hits in flight when it filled) is taken from the next. Sliding: the room
/// is the limit minus the estimate <c>current + previous × overlap</c>.</item>
/// </list>
/// It answers the host's allowance, the room, the share, and the
/// hits every host has sent for the key (<c>n</c>, kept as long as the key's state: what the fleet admitted), as
/// strings (Redis would truncate Lua numbers to integers). The allowance is what the host may admit until its next
/// exchange, a sync ahead (its interval, at most a sync):
/// <list type="bullet">
/// <item>its share of the room then: the room now and what comes free meanwhile, the bucket's refill (<c>tb</c>), the
/// fall of the previous window's weight up to the window's end (<c>sw</c>), nothing (<c>fw</c>). A grant of the room
/// now only would keep a sync of the fleet's room unspent at every moment, which one limiter spends;</item>
/// <item>at most the room less the other hosts' outstanding grants, so the grants together never exceed it;</item>
/// <item>at most twice what the host's demand would take in that time, so a host that sees a key first (alone in
/// its demand, share 1) does not hold the whole room from the hosts its traffic also reaches; a host with no demand
/// (it reported the key idle) has no share and frees what its last grant held;</item>
/// <item>at least 0.</item>
/// </list>
/// </summary>
internal static class FleetScript
{
    public const string Lua = """
        local alg = ARGV[1]
        local now = tonumber(ARGV[2])
        local hits = tonumber(ARGV[3])
        local demand = tonumber(ARGV[4])
        local host = ARGV[5]
        local interval = math.max(tonumber(ARGV[6]), 1)
        local p1 = tonumber(ARGV[7])
        local p2 = tonumber(ARGV[8])
        local ttl = tonumber(ARGV[9])
        local carried = tonumber(ARGV[10])
        local sync = tonumber(ARGV[11])

        -- a retry of a call the store already ran (its reply was lost or late): this host's entry has this call's time,
        -- so its hits are not charged a second time; the grant is computed afresh
        local mine = redis.call('HGET', KEYS[2], host)
        if mine and tonumber(string.match(mine, '^[^:]+:([^:]+):')) == now then
          hits = 0; carried = 0
        end

        local rate = demand / interval
        local total = rate
        local granted = 0
        local entries = redis.call('HGETALL', KEYS[2])
        for i = 1, #entries, 2 do
          if entries[i] ~= host then
            local r, t, iv, g = string.match(entries[i + 1], '^([^:]+):([^:]+):([^:]+):?(.*)$')
            r = tonumber(r); t = tonumber(t); iv = tonumber(iv); g = tonumber(g) or 0
            if math.abs(now - t) > 3 * iv then
              redis.call('HDEL', KEYS[2], entries[i])
            else
              total = total + r
              granted = granted + g
            end
          end
        end
        -- a host with no demand (it reported the key idle) has no share: its entry frees what its last grant held
        local share = 0
        if rate > 0 then share = rate / total end

        local avail
        local ahead = 0
        if alg == 'tb' then
          local s = redis.call('HMGET', KEYS[1], 't', 'u')
          local tokens = tonumber(s[1])
          local last = tonumber(s[2])
          -- a key the store does not have (new, expired, or lost with a restarted store) starts full as of the
          -- start of the time the hits cover, so hits a host kept through an outage are not charged twice
          if tokens == nil then tokens = p2; last = now - interval end
          if now > last then tokens = tokens + (now - last) * p1; last = now end
          tokens = math.min(p2, tokens - hits)
          -- hits a host admitted under its share while the store was away stayed within the rate by construction
          -- (the shares sum to it): recorded, not charged, as the bucket refilled once for all hosts meanwhile
          redis.call('HSET', KEYS[1], 't', string.format('%.17g', tokens), 'u', string.format('%.17g', last))
          if carried > 0 then redis.call('HINCRBYFLOAT', KEYS[1], 'o', carried) end
          avail = tokens
          -- the bucket refills while the host spends its grant: the room until its next exchange (a sync ahead) is
          -- what one limiter would have for the same time
          ahead = p1 * math.min(interval, sync)
        else
          local w = math.floor(now / p2)
          local s = redis.call('HMGET', KEYS[1], 'w', 'c', 'p')
          local sw = tonumber(s[1])
          local c = tonumber(s[2]) or 0
          local p = tonumber(s[3]) or 0
          if sw == nil then sw = w end
          if w == sw + 1 then
            p = c; c = 0; sw = w
            -- fixed window: what the fleet admitted over the limit in the window that ended (the hosts' hits in
            -- flight at its end) is taken from the new one, so over whole windows the fleet admits the limit
            if alg == 'fw' and p > p1 then c = p - p1 end
          elseif w > sw + 1 then p = 0; c = 0; sw = w end
          -- the hits are spread over the interval they cover: the part in the current window counts there, the part
          -- in the previous window there, anything older has left both
          local fc = math.min(1, (now - sw * p2) / interval)
          local fp = math.min(1 - fc, p2 / interval)
          c = c + (hits + carried) * fc
          p = p + (hits + carried) * fp
          redis.call('HSET', KEYS[1], 'w', string.format('%.17g', sw), 'c', string.format('%.17g', c), 'p', string.format('%.17g', p))
          if alg == 'fw' then
            avail = p1 - c
          else
            avail = p1 - (c + p * (1 - (now - sw * p2) / p2))
            -- the previous window's weight goes on falling while the host spends its grant: the room until its next
            -- exchange (a sync ahead) is the room then, as one limiter would have it; but only up to the window's end,
            -- as what the host admits before then counts in this window, which has its count's distance to the limit
            ahead = p * (math.min(now + math.min(interval, sync), (sw + 1) * p2) - now) / p2
          end
        end
        -- what the fleet admitted for the key, every host's hits (a retry's were zeroed above, so counted once)
        local admitted = redis.call('HINCRBYFLOAT', KEYS[1], 'n', hits + carried)
        redis.call('PEXPIRE', KEYS[1], ttl)
        -- the host's part of the room, but never more than the room the other hosts' grants leave: their hits since are
        -- not counted yet, so each may have spent its whole grant, and the grants together never exceed the room
        -- and never more than twice what the host's demand takes until its next exchange
        local want = 2 * rate * math.min(interval, sync)
        local allowance = math.max(0, math.min((avail + ahead) * share, avail + ahead - granted, want))
        redis.call('HSET', KEYS[2], host, string.format('%.17g:%.17g:%.17g:%.17g', rate, now, interval, allowance))
        redis.call('PEXPIRE', KEYS[2], ttl)
        return {string.format('%.17g', allowance), string.format('%.17g', avail), string.format('%.17g', share), admitted}
        """;

    /// <summary>The script's algorithm name and two parameters for <paramref name="rule"/>, and how long its state lives idle (ms).</summary>
    public static (string Algorithm, string P1, string P2, long TtlMs) Parameters(Rule rule, TimeSpan sync)
    {
        var syncMs = (long)sync.TotalMilliseconds;
        switch (rule.Algorithm)
        {
            case AlgorithmKind.FixedWindow:
            case AlgorithmKind.SlidingWindow:
                var windowUs = (rule.Window ?? TimeSpan.FromSeconds(1)).Ticks / 10;
                return (rule.Algorithm == AlgorithmKind.FixedWindow ? "fw" : "sw", Text(rule.Limit ?? 1), Text(windowUs), (2 * windowUs / 1000) + (10 * syncMs) + 1000);
            default:
                // Token bucket and leaky meter: tokens per microsecond, and the bucket.
                var rate = rule.Rate?.Rate ?? Limiting.Rate.PerSecondOf(1);
                var perUs = rate.Amount * 1000.0 / rate.PeriodNs;
                var burst = rule.Burst ?? 1;
                var refillMs = (long)Math.Min(burst / perUs / 1000, TimeSpan.FromDays(1).TotalMilliseconds);
                return ("tb", perUs.ToString("R", CultureInfo.InvariantCulture), Text(burst), (2 * refillMs) + (10 * syncMs) + 1000);
        }
    }

    private static string Text(long value) => value.ToString(CultureInfo.InvariantCulture);
}
