using Shaper.Firewall;
using Shaper.Rules;

namespace Shaper.Daemon;

/// <summary>
/// <c>shaperd --check</c>: probes the host (<see cref="FeatureProbe"/>), prints one line per feature (works or
/// missing, and what that disables), then the backend the configuration comes to. Exit 0 when that backend is
/// usable, 1 when it is not, 2 when the configuration has errors.
/// </summary>
internal static class CheckCommand
{
    public static int Run(string configPath, TextWriter output, TextWriter error)
    {
        var backend = BackendKind.Auto;
        if (File.Exists(configPath))
        {
            var loaded = ConfigLoader.Load(configPath);
            if (loaded.Config is not { } config)
            {
                foreach (var diagnostic in loaded.Diagnostics.Where(d => d.IsError))
                {
                    error.WriteLine(diagnostic);
                }

                return 2;
            }

            backend = config.Daemon.Backend;
        }
        else
        {
            error.WriteLine($"{configPath} does not exist; checking backend = \"auto\"");
        }

        var features = FeatureProbe.Run();
        foreach (var feature in features)
        {
            output.WriteLine(feature);
        }

        var name = Choices.NameOf(Choices.Backend, backend);
        var chosen = FeatureProbe.Choose(backend, features, out var why);
        output.WriteLine(chosen is { } kind ? $"backend {name}: usable, enforcing with {Choices.NameOf(Choices.Backend, kind)}" : $"backend {name}: {why}");
        return chosen is null ? 1 : 0;
    }
}
