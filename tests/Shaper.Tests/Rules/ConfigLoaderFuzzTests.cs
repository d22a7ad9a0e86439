using System.Text;
using Shaper.Rules;

namespace Shaper.Tests.Rules;

/// <summary>
/// Whatever the file holds, Load answers with diagnostics, never an exception, and every diagnostic
/// carries file:line:column on one line. Seeds are valid configurations; mutations flip bytes, drop,
/// repeat and swap lines, and splice in TOML tokens. The random generator is seeded: a failure repeats.
/// </summary>
public sealed class ConfigLoaderFuzzTests
{
    private const string FileName = "fuzz.toml";

    private static readonly string[] Tokens =
    [
        "[", "]", "[[", "]]", "{", "}", "=", ",", ".", "\"", "'", "\"\"\"", "'''", "#", "\n", "\r\n", "\t", " ",
        "true", "false", "0", "-1", "65536", "9223372036854775808", "1e400", "nan", "inf", "0x1F", "0o7", "0b1",
        "1979-05-27T07:32:00Z", "07:32:00", "\\", "\\u0000", "\\uD800", "\u0000", "\u202e", "é", "😀",
        "rule", "daemon", "global", "allow", "match", "name", "rate", "burst", "limit", "window", "queue",
        "enforce", "action", "block_for", "mode", "per", "algorithm", "proto", "dport", "src", "cidr",
        "\"10/s\"", "\"1 mbytes/s\"", "\"1h30m\"", "\"10.0.0.0/8\"", "\"::1/128\"", "\"22-80\"", "\"src/24\"",
        "\"sliding_log\"", "\"observe\"", "\"block\"", "\"queue\"", "\"leaky_bucket\"",
    ];

    private static readonly string[] Seeds =
    [
        File.ReadAllText(RepoRoot.File("packaging", "shaper.toml")),
        """
        [daemon]
        interface = "eth0"
        backend = "nftables"
        [global]
        rate = "20000/s"
        burst = 40000
        [[allow]]
        cidr = ["127.0.0.0/8", "::1/128", "198.18.0.0/15"]
        [[rule]]
        name = "ssh-new"
        match = { proto = "tcp", dport = [22, "2200-2299"], syn = true, src = ["0.0.0.0/0"] }
        rate = "10/minute"
        burst = 5
        action = "block"
        block_for = "10m"
        [[rule]]
        name = "http-log"
        match = { proto = "tcp", dport = [80, 443] }
        algorithm = "sliding_log"
        limit = 100
        window = "1m"
        enforce = "observe"
        mode = "soft"
        [[rule]]
        name = "udp-queue"
        algorithm = "leaky_bucket"
        rate = "8 mbit/s"
        queue = 50
        enforce = "queue"
        per = "src/24"
        [rule.match]
        proto = "udp"
        sport = ["1024-65535"]
        """,
    ];

    [Fact]
    public void Parse_ThousandsOfMutatedConfigs_NeverThrowsAndEveryDiagnosticIsLocated()
    {
        var random = new Random(20_240_601);
        for (var i = 0; i < 4000; i++)
        {
            var seed = Seeds[i % Seeds.Length];
            var text = Mutate(seed, random, 1 + random.Next(4));
            AssertWellFormed(text, ConfigLoader.Parse(text, FileName));
        }
    }

    [Fact]
    public void Parse_RandomText_NeverThrowsAndEveryDiagnosticIsLocated()
    {
        var random = new Random(7);
        for (var i = 0; i < 1000; i++)
        {
            var text = i % 2 == 0 ? RandomTokens(random) : RandomChars(random);
            AssertWellFormed(text, ConfigLoader.Parse(text, FileName));
        }
    }

    [Fact]
    public void Load_RandomAndMutatedBytes_NeverThrowsAndEveryDiagnosticIsLocated()
    {
        var random = new Random(99);
        var path = Path.Combine(Path.GetTempPath(), $"shaper-fuzz-{Guid.NewGuid():N}.toml");
        try
        {
            for (var i = 0; i < 300; i++)
            {
                var bytes = i % 2 == 0
                    ? FlipBytes(Encoding.UTF8.GetBytes(Seeds[i % Seeds.Length]), random)
                    : RandomBytes(random);
                File.WriteAllBytes(path, bytes);

                var result = ConfigLoader.Load(path);

                AssertWellFormed(Encoding.UTF8.GetString(bytes), result, path);
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static void AssertWellFormed(string input, LoadResult result, string file = FileName)
    {
        Assert.Equal(result.HasErrors, result.Config is null);
        foreach (var diagnostic in result.Diagnostics)
        {
            var line = diagnostic.ToString();
            Assert.True(diagnostic.Message != "internal error while reading the file", $"internal error ({line}) for input:\n{input}");
            Assert.True(diagnostic.Location.File == file, $"wrong file in '{line}' for input:\n{input}");
            Assert.True(diagnostic.Location.Line >= 1 && diagnostic.Location.Column >= 1, $"no line/column in '{line}' for input:\n{input}");
            Assert.StartsWith($"{file}:{diagnostic.Location.Line}:{diagnostic.Location.Column}: ", line, StringComparison.Ordinal);
            Assert.False(string.IsNullOrWhiteSpace(diagnostic.Message), $"empty message for input:\n{input}");
            Assert.False(string.IsNullOrWhiteSpace(diagnostic.Hint), $"empty hint in '{line}' for input:\n{input}");
            Assert.DoesNotContain('\n', line);
            Assert.DoesNotContain('\r', line);
            Assert.DoesNotContain("Exception", line, StringComparison.Ordinal);
            Assert.DoesNotContain("   at ", line, StringComparison.Ordinal);
        }
    }

    private static string Mutate(string seed, Random random, int count)
    {
        var lines = seed.Split('\n').ToList();
        for (var m = 0; m < count; m++)
        {
            var at = random.Next(lines.Count);
            switch (random.Next(7))
            {
                case 0:
                    lines.RemoveAt(at);
                    break;
                case 1:
                    lines.Insert(at, lines[random.Next(lines.Count)]);
                    break;
                case 2:
                    var other = random.Next(lines.Count);
                    (lines[at], lines[other]) = (lines[other], lines[at]);
                    break;
                case 3:
                case 4:
                    var line = lines[at];
                    var position = random.Next(line.Length + 1);
                    var cut = random.Next(Math.Min(4, line.Length - position) + 1);
                    lines[at] = line[..position] + Tokens[random.Next(Tokens.Length)] + line[(position + cut)..];
                    break;
                case 5:
                    var chars = lines[at].ToCharArray();
                    if (chars.Length > 0)
                    {
                        chars[random.Next(chars.Length)] = (char)random.Next(1, 128);
                    }

                    lines[at] = new string(chars);
                    break;
                default:
                    lines[at] = lines[at][..random.Next(lines[at].Length + 1)];
                    break;
            }

            if (lines.Count == 0)
            {
                lines.Add("");
            }
        }

        return string.Join('\n', lines);
    }

    private static string RandomTokens(Random random)
    {
        var builder = new StringBuilder();
        var count = random.Next(1, 80);
        for (var i = 0; i < count; i++)
        {
            builder.Append(Tokens[random.Next(Tokens.Length)]);
        }

        return builder.ToString();
    }

    private static string RandomChars(Random random)
    {
        var chars = new char[random.Next(0, 400)];
        for (var i = 0; i < chars.Length; i++)
        {
            chars[i] = random.Next(10) == 0 ? '\n' : (char)random.Next(1, 0x2FF);
        }

        return new string(chars);
    }

    private static byte[] FlipBytes(byte[] bytes, Random random)
    {
        var flips = 1 + random.Next(8);
        for (var i = 0; i < flips && bytes.Length > 0; i++)
        {
            bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
        }

        return bytes;
    }

    private static byte[] RandomBytes(Random random)
    {
        var bytes = new byte[random.Next(0, 600)];
        random.NextBytes(bytes);
        return bytes;
    }
}
