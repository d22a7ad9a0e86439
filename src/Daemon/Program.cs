using System.CommandLine;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging;
using Shaper.Rules;

namespace Shaper.Daemon;

internal static class Program
{
    public static int Main(string[] args)
    {
        var config = new Option<string>("--config")
        {
            Description = "The TOML configuration.",
            HelpName = "FILE",
            DefaultValueFactory = _ => DefaultConfiguration.Path,
        };
        var socket = new Option<string?>("--socket")
        {
            Description = "The control socket; replaces [daemon].socket.",
            HelpName = "PATH",
        };
        var check = new Option<bool>("--check")
        {
            Description = "Probe what this host supports (nft, meters, reject, iptables hashlimit, NFQUEUE, ipset, IFB, HTB, thread priority) in this network namespace, committing nothing that stays, print one line per feature, and exit: 0 when the configured backend is usable.",
        };
        var root = new RootCommand("shaperd: the Shaper daemon. Installs per-IP rate limits into the kernel, watches live traffic for observe rules and blocks offenders. Runs in the foreground; under systemd as Type=notify.")
        {
            config,
            socket,
            check,
        };
        root.SetAction(parse => parse.GetValue(check) ? CheckCommand.Run(parse.GetRequiredValue(config), Console.Out, Console.Error) : Run(new DaemonArguments(parse.GetRequiredValue(config), parse.GetValue(socket))));
        return root.Parse(args).Invoke();
    }

    private static int Run(DaemonArguments arguments)
    {
        // One shaperd per runtime directory and per network namespace, decided before anything touches the kernel
        // or the socket; both are held until the process ends.
        var socketPath = arguments.SocketOverride ?? ConfigLoader.Load(arguments.ConfigPath).Config?.Daemon.Socket ?? new DaemonSettings().Socket;
        using var instance = InstanceLock.TryAcquire(InstanceLock.PathFor(socketPath), out var locked);
        using var table = instance is null ? null : TableGuard.TryAcquire(out locked);
        if (instance is null || table is null)
        {
            Console.Error.WriteLine($"shaperd: not starting: {locked}");
            return 1;
        }

        // The probe (about ten short processes) runs while the host is built (the runtime compiling the hosting code),
        // before the start and not in its apply time; the ruleset is watched from before the probe commits anything.
        // The process does not end (a failed start, SIGTERM) before the probe has removed what it committed.
        var witness = new StartWitness(Shaper.Firewall.NftWitness.TryOpen("shaper"));
        var features = Task.Factory.StartNew<IReadOnlyList<Shaper.Firewall.Feature>>(Shaper.Firewall.FeatureProbe.Run, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => ((IAsyncResult)features).AsyncWaitHandle.WaitOne();
        _ = Task.Run(Control.ControlWarmUp.Run);

        // The host's default appsettings.json source would watch the working directory and every directory under it
        // (inotify on a thread of its own; under systemd the working directory is /) and wake the daemon for every
        // file written there; shaperd reads no appsettings.json changes. The setting goes in as a source: a value set
        // through the indexer of a configuration with no source yet is dropped.
        var settings = new HostApplicationBuilderSettings { Configuration = new ConfigurationManager() };
        settings.Configuration.AddInMemoryCollection([new("hostBuilder:reloadConfigOnChange", "false")]);
        var builder = Host.CreateApplicationBuilder(settings);
        builder.Services.AddSystemd();

        // Outside systemd AddSystemd registers no notifier; the service still asks for one (it does nothing
        // without NOTIFY_SOCKET).
        builder.Services.TryAddSingleton<ISystemdNotifier, SystemdNotifier>();
        builder.Logging.ClearProviders();
        builder.Logging.AddSystemdConsole(options => options.UseUtcTimestamp = true);

        // A start that fails has already logged why in one line; the host's own report is a stack trace.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.None);
        builder.Services.Configure<HostOptions>(options => options.ShutdownTimeout = TimeSpan.FromSeconds(4));
        builder.Services.AddSingleton(arguments);
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton(_ => witness);
        builder.Services.AddSingleton(features);
        builder.Services.AddSingleton<IReadOnlyList<Shaper.Firewall.Feature>>(_ => features.GetAwaiter().GetResult());
        builder.Services.AddSingleton<KernelEnforcer>();
        builder.Services.AddHostedService<ShaperService>();
        try
        {
            builder.Build().Run();
            return 0;
        }
        catch (InvalidOperationException)
        {
            // The service has logged why in one line; the exit code tells systemd it failed.
            return 1;
        }
    }
}
